import type { FastifyInstance, FastifyReply } from "fastify";
import { FerryError } from "@ferry/contracts";
import { isApiToken, type ApiTokens } from "./api-tokens.js";
import type { OidcVerifier } from "./oidc.js";
import { allows, roleOf, type Role } from "./roles.js";

/** How callers of the Ops API are told apart. */
export interface AuthDeps {
  tokens: ApiTokens;
  /** Set when `--oidc-issuer` is: bearer tokens that are not Ops API tokens are then tried as JWTs. */
  oidc?: OidcVerifier;
}

/** Who made a request: an Ops API token (by id) or an OIDC subject, and their role. */
export interface Caller {
  kind: "token" | "oidc";
  id: string;
  role: Role;
}

const realm = 'Bearer realm="ferry-ops"';

/**
 * Guards the app by RouteRoles (roles.ts). Call it before registering routes: registering a route the
 * table lacks then throws, so the app cannot start with an unguarded route. A request for no route at
 * all needs a viewer, so that callers without a token learn nothing of which routes exist.
 */
export function guardRoutes(app: FastifyInstance, deps: AuthDeps): void {
  app.addHook("onRoute", (route) => {
    for (const method of [route.method].flat()) roleOf(method, route.url);
  });
  app.addHook("onRequest", async (req, reply) => {
    const url = req.routeOptions.url;
    const need = url === undefined ? "viewer" : roleOf(req.method, url);
    if (need === "public") return;
    const caller = await authenticate(req.headers.authorization, deps, reply);
    if (!allows(caller.role, need)) {
      void reply.header("WWW-Authenticate", `${realm}, error="insufficient_scope"`);
      throw new FerryError("forbidden", `${req.method} ${url ?? req.url} needs the ${need} role; this ${caller.kind === "token" ? `token (${caller.id})` : "JWT"} has ${caller.role}`);
    }
    // Who did it, by token id or OIDC subject: never the token.
    req.log.debug({ caller: { kind: caller.kind, id: caller.id, role: caller.role } }, "authenticated");
  });
}

/** The caller an `Authorization` header names; throws `unauthorized` (with its challenge) otherwise. */
async function authenticate(header: string | undefined, deps: AuthDeps, reply: FastifyReply): Promise<Caller> {
  const token = /^Bearer +(\S+) *$/i.exec(header ?? "")?.[1];
  if (token === undefined) {
    void reply.header("WWW-Authenticate", realm);
    throw new FerryError("unauthorized", "this Ops API call needs `Authorization: Bearer <token>` (a token from `ferry ops token create`, or the admin token the hub printed at its first start)");
  }
  try {
    return await callerOf(token, deps);
  } catch (err) {
    if (err instanceof FerryError && err.code === "unauthorized") void reply.header("WWW-Authenticate", `${realm}, error="invalid_token"`);
    throw err;
  }
}

async function callerOf(token: string, deps: AuthDeps): Promise<Caller> {
  if (isApiToken(token) || !deps.oidc) {
    const checked = await deps.tokens.check(token);
    if (!checked.ok) throw new FerryError("unauthorized", `invalid bearer token: ${checked.reason}`);
    return { kind: "token", id: checked.token.id, role: checked.token.role };
  }
  const who = await deps.oidc.verify(token);
  return { kind: "oidc", id: who.subject, role: who.role };
}
