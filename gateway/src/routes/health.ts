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
      description: "200 while the gateway runs, with the state of its NATS connection and of the link to the Ops hub on an edge.",
      response: { 200: { description: "the gateway is alive", content: jsonContent(schemaRef("HealthReply")) } },
    },
  }, async () => health(nats.nc, nats.connection.connected));

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
