import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import fastifyStatic from "@fastify/static";
import type { NatsConnection } from "@nats-io/transport-node";
import { FerryError, MediaTypes, type DashboardStats } from "@ferry/contracts";
import { DASHBOARD_PREFIX } from "./dashboard-openapi.js";

/** Where the dashboard is served: the page at `/ui` (and `/ui/`), its assets under `/ui/`, its figures at `/ui/stats`. */

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

/** How many complete seconds `/ui/stats` reports. */
const WINDOW_SECONDS = 60;
/** How many of the last complete seconds the `recent` summary covers. */
const RECENT_SECONDS = 5;
/** Latency buckets: upper bounds growing by 20% from 50 µs to past a minute, so a quantile is off by at most 20%. */
const BUCKET_BOUNDS_MS: readonly number[] = Array.from({ length: 79 }, (_, k) => 0.05 * 1.2 ** k);

/** One second's traffic: counts and a latency histogram. */
interface Slot {
  /** The second (ms epoch ÷ 1000, floored) this slot holds; another value means the slot is stale. */
  second: number;
  requests: number;
  errors: number;
  buckets: Uint32Array;
}

/** The gateway's inference traffic over the last minute, one slot per second in a ring (bounded memory, O(1) per request). */
class TrafficWindow {
  readonly #slots: Slot[] = Array.from({ length: WINDOW_SECONDS + 1 }, () => ({ second: -1, requests: 0, errors: 0, buckets: new Uint32Array(BUCKET_BOUNDS_MS.length + 1) }));
  readonly #since = Date.now();
  #requests = 0;
  #errors = 0;

  /** Counts one answered inference request. */
  observe(status: number, ms: number, now = Date.now()): void {
    const slot = this.#slot(Math.floor(now / 1000));
    slot.requests++;
    this.#requests++;
    if (status >= 400) {
      slot.errors++;
      this.#errors++;
    }
    slot.buckets[bucketOf(ms)]++;
  }

  /** The last complete seconds and their summary. */
  stats(now = Date.now()): Omit<DashboardStats, "nats"> {
    const current = Math.floor(now / 1000);
    const seconds: DashboardStats["seconds"] = [];
    const recent = new Uint32Array(BUCKET_BOUNDS_MS.length + 1);
    let recentRequests = 0;
    for (let s = current - WINDOW_SECONDS; s < current; s++) {
      const slot = this.#slots[s % this.#slots.length]!;
      const live = slot.second === s;
      const buckets = live ? slot.buckets : undefined;
      seconds.push({
        time: s * 1000,
        requests: live ? slot.requests : 0,
        errors: live ? slot.errors : 0,
        p50_ms: quantile(buckets, 0.5),
        p99_ms: quantile(buckets, 0.99),
      });
      if (live && s >= current - RECENT_SECONDS) {
        recentRequests += slot.requests;
        for (let i = 0; i < recent.length; i++) recent[i] += slot.buckets[i];
      }
    }
    return {
      now,
      seconds,
      recent: { span_s: RECENT_SECONDS, requests_per_s: recentRequests / RECENT_SECONDS, p50_ms: quantile(recent, 0.5), p99_ms: quantile(recent, 0.99) },
      total: { requests: this.#requests, errors: this.#errors, since: this.#since },
    };
  }

  #slot(second: number): Slot {
    const slot = this.#slots[second % this.#slots.length]!;
    if (slot.second !== second) {
      slot.second = second;
      slot.requests = 0;
      slot.errors = 0;
      slot.buckets.fill(0);
    }
    return slot;
  }
}

function bucketOf(ms: number): number {
  // Few buckets: a linear scan costs less than the log it would replace.
  let i = 0;
  while (i < BUCKET_BOUNDS_MS.length && ms > BUCKET_BOUNDS_MS[i]!) i++;
  return i;
}

/** The upper bound of the bucket holding quantile `q`, ms, rounded to 3 digits; null when the histogram is empty. */
function quantile(buckets: Uint32Array | undefined, q: number): number | null {
  if (!buckets) return null;
  const n = buckets.reduce((a, b) => a + b, 0);
  if (n === 0) return null;
  const rank = Math.ceil(q * n);
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    seen += buckets[i];
    if (seen >= rank) {
      const bound = BUCKET_BOUNDS_MS[Math.min(i, BUCKET_BOUNDS_MS.length - 1)]!;
      return Number(bound.toPrecision(3));
    }
  }
  return null;
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
 * assets at `/ui/assets/{file}`, and `GET /ui/stats` with the gateway's own inference traffic (requests per
 * second and latency over the last minute) for its chart. When the page is not built, the page and asset
 * routes answer 503 `unavailable` saying how to build it; `/ui/stats` works either way. The routes join the
 * OpenAPI document at `/docs`.
 * @param app the gateway's app; inference requests are counted from its `onResponse` hook
 * @param nc the gateway's NATS connection, whose message counters `/ui/stats` reports
 * @param options where the built page is (tests point it elsewhere)
 */
export function registerDashboard(app: FastifyInstance, nc: NatsConnection, options: DashboardOptions = {}): void {
  const traffic = new TrafficWindow();
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
      const s = nc.stats();
      return { ...traffic.stats(), nats: { in_msgs: s.inMsgs, out_msgs: s.outMsgs, in_bytes: s.inBytes, out_bytes: s.outBytes } };
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
