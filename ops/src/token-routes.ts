import type { FastifyInstance } from "fastify";
import type { ApiTokens } from "./api-tokens.js";
import { jsonOf } from "./routes.js";

/** Creating, listing and revoking Ops API tokens (admin only, by RouteRoles). */
export function tokenRoutes(app: FastifyInstance, tokens: ApiTokens): void {
  app.post("/tokens", async (req, reply) => {
    const body = jsonOf(req.body) as { role?: unknown; name?: unknown; ttl_ms?: unknown };
    const { token, view } = await tokens.create(body.role, body.name, body.ttl_ms);
    req.log.info({ apiToken: { id: view.id, role: view.role, name: view.name } }, "Ops API token created");
    // The only time the token itself is shown; the hub keeps its sha256.
    return reply.code(201).header("Cache-Control", "no-store").send({ ...view, token });
  });
  app.get("/tokens", async () => tokens.list());
  app.delete<{ Params: { id: string } }>("/tokens/:id", async (req) => {
    const revoked = await tokens.revoke(req.params.id);
    req.log.info({ apiToken: { id: revoked.id, role: revoked.role, name: revoked.name } }, "Ops API token revoked");
    return { revoked: revoked.id };
  });
}
