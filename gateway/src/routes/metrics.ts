import type { FastifyPluginAsync } from "fastify";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Registry } from "prom-client";
import { gatherMetrics, mergeExpositions } from "../metrics-merge.js";

/** Prometheus' text format, as prom-client labels it. */
const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4";

/** Options of {@link metricsRoutes}. */
export interface MetricsRoutesOptions {
  /** The gateway's own metrics. */
  registry: Registry;
  nc: NatsConnection;
}

/**
 * `GET /metrics` (Prometheus text): the gateway's own metrics followed by those of every inferer and
 * logger that answers `ferry.metrics`, each sample labelled with `service` and `instance`.
 */
export const metricsRoutes: FastifyPluginAsync<MetricsRoutesOptions> = async (app, { registry, nc }) => {
  app.get("/metrics", {
    schema: {
      operationId: "metrics", summary: "Metrics", tags: ["operations"],
      description: "Prometheus text exposition format: the gateway's own metrics merged with those the site's other services answer.",
      response: { 200: { description: "the site's metrics", content: { [METRICS_CONTENT_TYPE]: { schema: { type: "string" } } } } },
    },
  }, async (_req, reply) => {
    const [own, others] = await Promise.all([registry.metrics(), gatherMetrics(nc)]);
    return reply.type(registry.contentType).send(mergeExpositions([own, ...others]));
  });
};
