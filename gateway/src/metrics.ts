import { hostname } from "node:os";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { NatsConnection } from "@nats-io/transport-node";
import { Counter, Histogram, type Registry } from "prom-client";
import { FerryError } from "@ferry/contracts";
import { registerNatsMetrics, serviceRegistry } from "@ferry/runtime";
import { metricsRoutes } from "./routes/metrics.js";

/** Pipeline label of `POST /infer` (whatever pipeline is current). */
export const CURRENT_PIPELINE_LABEL = "current";
/** Pipeline label of requests for a pipeline that does not exist (404): names from URLs must not grow the label set. */
export const UNKNOWN_PIPELINE_LABEL = "(unknown)";
/** Pipeline label once this many distinct names have been seen. */
const MAX_PIPELINE_LABELS = 100;
const OTHER_PIPELINE_LABEL = "(other)";

interface Observers {
  count: Counter.Internal;
  time: Histogram.Internal<"pipeline" | "code">;
}

/** The gateway's own metrics. Labelled children are cached, so a request costs one inc and one observe. */
class GatewayMetrics {
  readonly registry: Registry;
  readonly shed: Counter;
  readonly #requests: Counter<"pipeline" | "code">;
  readonly #duration: Histogram<"pipeline" | "code">;
  readonly #observers = new Map<string, Map<number, Observers>>();

  constructor(nc: NatsConnection, instance: string) {
    this.registry = serviceRegistry({ service: "gateway", instance });
    const registers = [this.registry];
    this.#requests = new Counter({
      name: "ferry_gateway_requests_total",
      help: "Inference requests answered (POST /infer as pipeline=\"current\", POST /pipelines/{name} and V2 REST under the pipeline's name), by pipeline and HTTP status.",
      labelNames: ["pipeline", "code"], registers,
    });
    this.#duration = new Histogram({
      name: "ferry_gateway_request_duration_seconds",
      help: "Time from receiving an inference request to its response, by pipeline and HTTP status.",
      labelNames: ["pipeline", "code"], registers,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    });
    this.shed = new Counter({
      name: "ferry_gateway_shed_requests_total",
      help: "Inference requests refused with 503 overloaded because the gateway held --max-pending requests (or bytes) already.",
      registers,
    });
    registerNatsMetrics(this.registry, nc);
  }

  /** Counts one answered inference request. */
  observe(pipeline: string, code: number, seconds: number): void {
    let byCode = this.#observers.get(pipeline);
    if (!byCode) this.#observers.set(pipeline, (byCode = new Map()));
    let o = byCode.get(code);
    if (!o) {
      const labels = { pipeline, code: String(code) };
      byCode.set(code, (o = { count: this.#requests.labels(labels), time: this.#duration.labels(labels) }));
    }
    o.count.inc();
    o.time.observe(seconds);
  }

  /** The label for a pipeline name from a URL, bounded in number. */
  pipelineLabel(name: string, code: number): string {
    if (code === 404) return UNKNOWN_PIPELINE_LABEL;
    if (this.#observers.has(name) || this.#observers.size < MAX_PIPELINE_LABELS) return name;
    return OTHER_PIPELINE_LABEL;
  }
}

/**
 * The pipeline label of an inference request; undefined for other routes. Reads the URL and the
 * route's parameters rather than `req.routeOptions`, which builds a new object on every access.
 */
function pipelineOf(metrics: GatewayMetrics, req: FastifyRequest, code: number): string | undefined {
  if (req.method !== "POST") return undefined;
  const name = (req.params as { name?: string } | undefined)?.name;
  if (name !== undefined) return req.url.startsWith("/pipelines/") || isV2Infer(req.url) ? metrics.pipelineLabel(name, code) : undefined;
  return req.url === "/infer" || req.url.startsWith("/infer?") ? CURRENT_PIPELINE_LABEL : undefined;
}

/** `POST /v2/models/{name}[/versions/{v}]/infer`: a V2 inference counts under its pipeline. */
function isV2Infer(url: string): boolean {
  const path = url.split("?", 1)[0]!;
  return path.startsWith("/v2/models/") && path.endsWith("/infer");
}

/** This gateway's `instance` label: unique per process, also when several run behind one port. */
function defaultInstance(): string {
  return `gateway-${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * Counts the inference requests (and the shed ones) from the app's hooks, and registers `GET /metrics`
 * (routes/metrics.ts) with them and every other service's metrics.
 */
export function registerMetrics(app: FastifyInstance, nc: NatsConnection, instance = defaultInstance()): InferenceCounter {
  const metrics = new GatewayMetrics(nc, instance);
  // Callback hooks, not async ones: they run on every request.
  app.addHook("onResponse", (req, reply, done) => {
    const pipeline = pipelineOf(metrics, req, reply.statusCode);
    if (pipeline !== undefined) metrics.observe(pipeline, reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
  app.addHook("onError", (_req, _reply, err, done) => {
    if (err instanceof FerryError && err.code === "overloaded") metrics.shed.inc();
    done();
  });
  void app.register(metricsRoutes, { registry: metrics.registry, nc });
  return {
    observe: (name, code, seconds) => metrics.observe(metrics.pipelineLabel(name, code), code, seconds),
    shed: () => metrics.shed.inc(),
  };
}

/** Counts inferences that reach the gateway other than over HTTP (gRPC), in the same metrics. */
export interface InferenceCounter {
  /** One answered inference for pipeline `name`, with the HTTP status its answer maps to. */
  observe(name: string, code: number, seconds: number): void;
  /** One refused with `overloaded`. */
  shed(): void;
}
