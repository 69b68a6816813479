import { FerryError } from "@ferry/contracts";

/** Who may call what on the Ops API; each role may do everything the ones before it may. */
export const Roles = ["viewer", "publisher", "admin"] as const;
export type Role = (typeof Roles)[number];

/** Whether `x` names a role. */
export function isRole(x: unknown): x is Role {
  return typeof x === "string" && (Roles as readonly string[]).includes(x);
}

/** Whether a caller with role `have` may call a route that needs `need`. */
export function allows(have: Role, need: Role): boolean {
  return Roles.indexOf(have) >= Roles.indexOf(need);
}

/**
 * THE table of the Ops API's routes and the role each needs (`public`: no bearer token). The app refuses
 * to register a route that is not here (see auth.ts), so a new route cannot go out unguarded, and
 * test/ops-auth.test.ts calls every entry without a token and with each weaker role.
 */
export const RouteRoles = {
  "GET /health": "public",
  // The edge's one-time join token is its credential (edge-lifecycle.ts).
  "POST /join": "public",
  // Signed by the edge's own nkey (edge-identity.ts); a stranger's key only ever hears "revoked".
  "POST /edges/:name/status": "public",
  "GET /edges": "viewer",
  "GET /pipelines": "viewer",
  // A query: it reads logs, it changes nothing.
  "POST /logs": "viewer",
  "POST /models": "publisher",
  "POST /pipelines/:name/publish": "publisher",
  "POST /edges": "admin",
  "DELETE /edges/:name": "admin",
  "POST /tokens": "admin",
  "GET /tokens": "admin",
  "DELETE /tokens/:id": "admin",
} as const satisfies Record<string, Role | "public">;

export type RouteKey = keyof typeof RouteRoles;

/** The role route `METHOD url` needs (Fastify's `HEAD` twin of a GET needs what the GET needs); throws for a route not in the table. */
export function roleOf(method: string, url: string): Role | "public" {
  const key = `${method === "HEAD" ? "GET" : method} ${url}`;
  if (!Object.hasOwn(RouteRoles, key)) throw new FerryError("internal", `Ops route ${key} has no entry in RouteRoles (ops/src/roles.ts): every route must say which role it needs`);
  return RouteRoles[key as RouteKey];
}
