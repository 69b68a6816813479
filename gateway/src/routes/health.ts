import type { FastifyPluginAsync } from "fastify";
import { health } from "../health.js";
import { readiness } from "../readiness.js";
import { jsonContent } from "../openapi-responses.js";
import { schemaRef } from "../openapi-schemas.js";

/** `GET /health` (liveness) and `GET /ready` (readiness). */
export const healthRoutes: FastifyPluginAsync = async (app) => {
  const nats = app.nats;
  app.get("/health", {
    schema: {
      operationId: "health", summary: "Liveness", tags: ["operations"],
      description: "200 while the gateway reaches the site's NATS server; 503 (same body, `status: unavailable`) while it does not, as when the spawned nats-server is being restarted. With the state of the link to the Ops hub on an edge.",
      response: {
        200: { description: "the site can serve", content: jsonContent(schemaRef("HealthReply")) },
        503: { description: "NATS is away (not an error body)", content: jsonContent(schemaRef("HealthReply")) },
      },
    },
  }, async (_req, reply) => {
    const body = await health(nats.nc, nats.connection.connected);
    if (body.status !== "ok") void reply.code(503).header("Retry-After", "1");
    return body;
  });

  app.get("/ready", {
    schema: {
      operationId: "ready", summary: "Readiness", tags: ["operations"],
      description: "200 when NATS is connected and an inferer runs the site's current pipeline; else 503 with the same body and its `reasons`. A hub link that is down does not make an edge unready.",
      response: {
        200: { description: "ready", content: jsonContent(schemaRef("ReadyReply")) },
        503: { description: "not ready (the body says why; not an error body)", content: jsonContent(schemaRef("ReadyReply")) },
      },
    },
  }, async (_req, reply) => {
    const body = await readiness(nats);
    return reply.code(body.status === "ready" ? 200 : 503).send(body);
  });
};
