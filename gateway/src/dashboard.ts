import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import fastifyStatic from "@fastify/static";
import type { NatsConnection } from "@nats-io/transport-node";
import { FerryError, MediaTypes, type DashboardStats } from "@ferry/contracts";
import { DASHBOARD_PREFIX } from "./dashboard-openapi.js";
import { answerTraffic, siteTraffic } from "./site-traffic.js";
import { TrafficWindow } from "./traffic-window.js";

/**
 * The page's CSP: everything from the gateway itself, nothing inline, no frames. The page only runs its
 * bundled script and fetches the gateway's own API, so anything from elsewhere would be a bug; the browser
 * refuses it and reports it in the console, where the dashboard's test looks.
 */
export const DASHBOARD_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
  + "font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

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

const notBuilt = (dist: string): FerryError =>
  new FerryError("unavailable", `the dashboard is not built (no ${join(dist, "index.html")}): run npm run build, then restart the gateway`);

/** Names Vite gives the page's assets (`index-<hash>.js`): one path segment, no leading dot. */
const ASSET_NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/;

/**
 * Registers the site dashboard: the page built from `ui/` at `/ui` and `/ui/` (strict CSP: self only), its
 * assets at `/ui/assets/{file}`, and `GET /ui/stats` with the site's inference traffic (requests per second
 * and latency over the last minute, summed over every gateway answering `ferry.gateway.traffic`, which this
 * one answers too) for its chart. When the page is not built, the page and asset
 * routes answer 503 `unavailable` saying how to build it; `/ui/stats` works either way. The routes join the
 * OpenAPI document at `/docs`.
 * @param app the gateway's app; inference requests are counted from its `onResponse` hook
 * @param nc the gateway's NATS connection: other gateways' traffic comes over it, and `/ui/stats` reports its counters
 * @param options where the built page is (tests point it elsewhere)
 */
export function registerDashboard(app: FastifyInstance, nc: NatsConnection, options: DashboardOptions = {}): void {
  const traffic = new TrafficWindow();
  answerTraffic(nc, traffic);
  const dist = options.distDir ?? defaultDashboardDist();
  const built = existsSync(join(dist, "index.html"));
  const assets = join(dist, "assets");

  // A callback hook, not an async one: it runs on every request.
  app.addHook("onResponse", (req, reply, done) => {
    if (isInference(req)) traffic.observe(reply.statusCode, reply.elapsedTime);
    done();
  });

  // Encapsulated: the CSP header and reply.sendFile stay with the dashboard's routes.
  void app.register(async (scope) => {
    scope.addHook("onSend", (_req, reply, payload, done) => {
      void reply.header("content-security-policy", DASHBOARD_CSP).header("x-content-type-options", "nosniff");
      done(null, payload);
    });
    scope.get(`${DASHBOARD_PREFIX}/stats`, async (): Promise<DashboardStats> => {
      const site = await siteTraffic(nc, traffic);
      const s = nc.stats();
      return { ...site, nats: { in_msgs: s.inMsgs, out_msgs: s.outMsgs, in_bytes: s.inBytes, out_bytes: s.outBytes } };
    });
    // Explicit routes rather than @fastify/static's wildcard, so that each one has a path the OpenAPI document can name.
    await scope.register(fastifyStatic, { root: dist, serve: false });
    const page = async (_req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
      if (!built) return unavailable(reply, dist);
      // Revalidated on each load: a rebuild changes the asset names it points at.
      return reply.sendFile("index.html", { maxAge: 0, immutable: false });
    };
    scope.get(DASHBOARD_PREFIX, page);
    scope.get(`${DASHBOARD_PREFIX}/`, page);
    scope.get<{ Params: { file: string } }>(`${DASHBOARD_PREFIX}/assets/:file`, async (req, reply) => {
      if (!built) return unavailable(reply, dist);
      if (!ASSET_NAME.test(req.params.file)) {
        reply.callNotFound();
        return reply;
      }
      // Content-hashed names: a file never changes under its name.
      return reply.sendFile(req.params.file, assets, { maxAge: "365d", immutable: true });
    });
  });
}

function unavailable(reply: FastifyReply, dist: string): FastifyReply {
  const e = notBuilt(dist);
  return reply.code(e.status).type(MediaTypes.json).send(e.toBody());
}
