import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { NatsConnection } from "@nats-io/transport-node";
import { answerTraffic } from "./site-traffic.js";
import { TrafficWindow } from "./traffic-window.js";
import { dashboardRoutes } from "./routes/dashboard.js";
import { addSharedSchemas } from "./openapi-schemas.js";

/** Options of {@link registerDashboard}. */
export interface DashboardOptions {
  /** The built page (Vite's output). Default: `dist/` of the `@ferry/ui` package, wherever it is installed. */
  distDir?: string;
}

/** Whether a request is an inference request (the traffic the dashboard charts). */
function isInference(req: FastifyRequest): boolean {
  return req.method === "POST" && (req.url === "/infer" || req.url.startsWith("/infer?") || req.url.startsWith("/pipelines/"));
}

/**
 * `ui/dist` of the installed `@ferry/ui` package (a workspace link in this repository), found from this
 * module rather than the working folder; the repository layout is the fallback when the package is not linked.
 */
export function defaultDashboardDist(): string {
  try {
    return join(dirname(createRequire(import.meta.url).resolve("@ferry/ui/package.json")), "dist");
  } catch {
    return fileURLToPath(new URL("../../ui/dist", import.meta.url));
  }
}

/**
 * Registers the site dashboard: the page built from `ui/` at `/ui` and `/ui/` (strict CSP: self only), its
 * assets at `/ui/assets/{file}`, and `GET /ui/stats` with the site's inference traffic (requests per second
 * and latency over the last minute, summed over every gateway answering `ferry.gateway.traffic`, which this
 * one answers too) for its chart. When the page is not built, the page and asset routes answer 503
 * `unavailable` saying how to build it; `/ui/stats` works either way. See routes/dashboard.ts.
 * @param app the gateway's app; inference requests are counted from its `onResponse` hook
 * @param nc the gateway's NATS connection: other gateways' traffic comes over it, and `/ui/stats` reports its counters
 * @param options where the built page is (tests point it elsewhere)
 */
export function registerDashboard(app: FastifyInstance, nc: NatsConnection, options: DashboardOptions = {}): void {
  const traffic = new TrafficWindow();
  const responder = answerTraffic(nc, traffic);
  app.addHook("onClose", (_app, done) => {
    if (!responder.isClosed()) responder.unsubscribe();
    done();
  });
  // A callback hook, not an async one: it runs on every request.
  app.addHook("onResponse", (req, reply, done) => {
    if (isInference(req)) traffic.observe(reply.statusCode, reply.elapsedTime);
    done();
  });
  addSharedSchemas(app);
  const dist = options.distDir ?? defaultDashboardDist();
  void app.register(dashboardRoutes, { nc, traffic, dist, built: existsSync(join(dist, "index.html")) });
}
