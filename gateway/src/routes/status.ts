import type { FastifyPluginAsync } from "fastify";
import { LastKnownStatus } from "../last-known-status.js";
import { collectStatus, modelsOf, pipelinesOf } from "../status-client.js";
import { errorResponses, jsonContent } from "../openapi-responses.js";
import { schemaRef } from "../openapi-schemas.js";

/** Options of {@link statusRoutes}. */
export interface StatusRoutesOptions {
  /** Pipelines the site is expected to serve besides the deployed ones: listed as Error when no inferer reports them. */
  pipelines: readonly string[];
}

/** `GET /pipelines` and `GET /models`: what the inferers report, gathered over `ferry.status`. */
export const statusRoutes: FastifyPluginAsync<StatusRoutesOptions> = async (app, options) => {
  const { nc, stores, connection } = app.nats;
  const last = new LastKnownStatus();
  app.get("/pipelines", {
    schema: {
      operationId: "listPipelines", summary: "List pipelines", tags: ["status"],
      description: "`Running`, or `Error` with a `detail` (model failed to load, or no inferer serves it). Answers within about a second even when no inferer runs; while the site's NATS server is away, at once with the last known pipelines marked `Error`.",
      response: { 200: { description: "the site's pipelines", content: jsonContent(schemaRef("PipelinesReply")) }, ...errorResponses(["internal"]) },
    },
  }, async () => {
    if (!connection.connected) return { pipelines: last.pipelinesAway(options.pipelines) };
    const [statuses, deployed] = await Promise.all([collectStatus(nc), stores.deployedPipelines()]);
    last.models(modelsOf(statuses));
    return { pipelines: last.pipelines(pipelinesOf(statuses, [...new Set([...options.pipelines, ...deployed])])) };
  });
  app.get("/models", {
    schema: {
      operationId: "listModels", summary: "List models", tags: ["status"],
      description: "The models of the running inferers; `sha` is the sha256 of the model file.",
      response: { 200: { description: "the site's models", content: jsonContent(schemaRef("ModelsReply")) }, ...errorResponses(["internal"]) },
    },
  }, async () => ({ models: connection.connected ? last.models(modelsOf(await collectStatus(nc))) : last.modelsAway() }));
};
