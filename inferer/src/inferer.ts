import { hostname, tmpdir } from "node:os";
import { readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import type { Msg, NatsConnection } from "@nats-io/transport-node";
import { FerryError, batchHeaders, batchSize, encodeEnvelope, logSubject, replyHeaders, replyPart, requestParts, type EnvelopePart, type InfererStatus } from "@ferry/contracts";
import { natsHeaders, serveDiscovery, serviceOf, type Service, connectService } from "@ferry/runtime";
import { answerMetrics } from "@ferry/runtime";
import { pino, type Logger } from "pino";
import { filesBeside, readManifestFile } from "./manifest-loader.js";
import { PipelineRuntime, type RuntimeOptions } from "./pipeline-runtime.js";
import { PipelineSet, type Entry } from "./pipeline-set.js";
import { watchDeployments } from "./deployment-watcher.js";
import { ArrowDecoder } from "./arrow-decoder.js";
import { LogPublisher, type LogPublisherOptions, type LogPublisherStats } from "./log-publisher.js";
import { errorReply, inferParts, type InferOptions, type PartReply } from "./infer-parts.js";
import { Batcher, type BatchWindow } from "./batcher.js";
import { DurableRequests, type DurableOptions, type DurableRun, type DurableStats } from "./durable-requests.js";
import { InfererMetrics } from "./inferer-metrics.js";
import { InferEndpoints } from "./infer-endpoints.js";

/** How to start an inferer. */
export interface InfererOptions {
  /** NATS server URL(s); ignored when `nc` is given. Default nats://127.0.0.1:4222. */
  natsUrl?: string;
  /** An open connection to use instead (the inferer drains it on stop). */
  nc?: NatsConnection;
  /** Deployment manifest files to serve. */
  manifests: readonly string[];
  /** Pipeline served on `ferry.infer` (`POST /infer`). Default: the first manifest's. */
  current?: string;
  /** onnxruntime intra-op threads per session. Default 1 (faster for small models). */
  intraOpThreads?: number;
  /** Rows with more scalar values than this echo `original_data: null`. Default 1000. */
  originalDataMaxValues?: number;
  /** The site's name in log records (`metadata.partition`). Default: the host name. */
  partition?: string;
  /** Publish one log record per input row to JetStream (`ferry.log.<pipeline>`). Default true. */
  logRecords?: boolean;
  /** Inputs of a record larger than this are left out of its log record (named in `dropped`), bytes. Default 100 KiB. */
  logDropBytes?: number;
  /** Log publishing limits. */
  logPublisher?: Omit<LogPublisherOptions, "logger">;
  /** Watch the deployments bucket and serve what is deployed there. Default true. */
  watch?: boolean;
  /** Folder for the local copies of deployed models and manifests. Default: a folder in the OS temp dir. */
  cacheDir?: string;
  /** An Arrow body still decoding after this long gets 400 (hostile input), ms. Default 3000. */
  arrowDecodeTimeoutMs?: number;
  /**
   * Merge concurrent requests for a pipeline into one session run (sync and durable alike), for
   * pipelines whose manifest does not say. Default false: a lone request never waits.
   */
  batching?: BatchWindow | false;
  /** Durable inference (`ferry.submit.<pipeline>`); false: do not take durable requests. Default on. */
  durable?: DurableOptions | false;
  logger?: Logger;
}

/** A running inferer. */
export interface Inferer extends Service {
  readonly id: string;
  /** What this inferer reports on `ferry.status`. */
  status(): InfererStatus;
  /** Counters since start. */
  stats(): InfererStats;
  /** Log publishing counters (published, buffered, overflow, retries). */
  logStats(): LogPublisherStats;
}

/** What an inferer has done since it started. */
export interface InfererStats {
  /** NATS messages answered (a batch envelope counts once). */
  messages: number;
  /** Inference requests answered (each part of an envelope counts). */
  requests: number;
  /** Pipeline runs (one session run per step each). */
  runs: number;
  /** Durable requests (absent when durable inference is off). */
  durable?: DurableStats;
}

/** Batching when a manifest turns it on without saying how. */
const MANIFEST_BATCHING: BatchWindow = { windowMs: 2, maxBatch: 64 };
/** Durable requests nobody waits on: merge those delivered together, without waiting for more. */
const DURABLE_BATCHING: BatchWindow = { windowMs: 0, maxBatch: 64 };

/** Starts an inferer: serves its manifest files and what is deployed, answering `ferry.infer[.<pipeline>]` in the `ferry-inferers` queue group. */
export async function start(options: InfererOptions): Promise<Inferer> {
  const log = options.logger ?? pino({ name: "inferer" });
  const id = `inferer-${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const nc = options.nc ?? await connectService("ferry-inferer", options.natsUrl);
  const counters: InfererStats = { messages: 0, requests: 0, runs: 0 };
  const metrics = new InfererMetrics(nc, id);
  const endpoints = new InferEndpoints();
  const arrow = new ArrowDecoder({ timeoutMs: options.arrowDecodeTimeoutMs }).start();
  const publisher = new LogPublisher(nc, { ...options.logPublisher, logger: log });
  const logging = options.logRecords ?? true;
  const partition = options.partition ?? hostname();
  const inferOptions: InferOptions & { counters: InfererStats } = {
    originalDataMaxValues: options.originalDataMaxValues ?? 1000,
    arrow,
    counters,
    observeRun: (pipeline, requests, rows) => metrics.observeRun(pipeline, requests, rows),
    ...(logging ? { log: { partition, dropBytes: options.logDropBytes ?? 100 * 1024 } } : {}),
  };
  const runtimeOptions: RuntimeOptions = { intraOpThreads: options.intraOpThreads, stepTimer: (pipeline, model) => metrics.stepTimer(pipeline, model) };
  const run = partsRunner(inferOptions, options.batching ?? false);
  const inFlight = new Set<Promise<void>>();
  const logReplies = (pipeline: string, replies: readonly PartReply[]): void => {
    // After the reply: logging never delays it.
    if (replies.some((r) => r.logs)) setImmediate(() => publishLogs(publisher, logSubject(pipeline, partition), replies, log));
  };
  const onMessage = (entry: Entry, msg: Msg): void => {
    const endpoint = endpoints.of(msg.subject);
    const t0 = performance.now();
    const p = answer(nc, entry, msg, run, counters).then((replies) => {
      if (replies.length > 0) endpoint.answered(replies, (performance.now() - t0) * 1e6);
      for (const r of replies) if (r.failure) log.error({ err: r.failure.cause ?? r.failure, code: r.failure.code, pipeline: entry.name }, "inference failed");
      logReplies(entry.name, replies);
    }, (err: unknown) => log.error({ err }, "reply failed"));
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };
  const durableRun: DurableRun = async (pipeline, part) => {
    const runtime = set.runtimeOf(pipeline);
    if (!runtime) return undefined;
    counters.requests++;
    return (await run(runtime, [part], true))[0];
  };
  const durable = options.durable === false
    ? undefined
    : await DurableRequests.open(nc, durableRun, (pipeline, reply) => logReplies(pipeline, [reply]), log, options.durable);
  const set = new PipelineSet(nc, id, onMessage, log, {
    serving: (name, replaced) => {
      void durable?.follow(name);
      metrics.deployment(name, replaced ? "replaced" : "loaded");
    },
    failed: (name) => metrics.deployment(name, "failed"),
    removed: (name) => void durable?.unfollow(name),
  });
  metrics.track({ runs: () => counters.runs, endpoints, publisher, ...(durable ? { durable } : {}) });
  const metricsSub = answerMetrics(nc, metrics.registry);
  const discovery = serveDiscovery(nc, endpoints.discoverable(id, () => set.subjects()));
  const names = await Promise.all(options.manifests.map((path) => loadFile(set, path, runtimeOptions)));
  set.setCurrent(options.current ?? names[0]);
  const watch = options.watch ?? true
    ? await watchDeployments(nc, set, options.cacheDir ?? join(tmpdir(), `ferry-inferer-cache-${process.getuid?.() ?? 0}`), runtimeOptions, log)
    : undefined;
  await nc.flush();
  log.info({ id, pipelines: set.status().pipelines.map((p) => p.id), current: set.current }, "inferer ready");

  return serviceOf("inferer", async () => {
    await discovery.stop();
    await metricsSub.drain();
    await watch?.stop();
    await durable?.close();
    const closing = set.close();
    await Promise.all([...inFlight]);
    await closing;
    await new Promise((r) => setImmediate(r));
    await publisher.flush(options.logPublisher?.ackTimeoutMs ?? 5000);
    publisher.close();
    await nc.drain();
    await arrow.close();
  }, { id, status: () => set.status(), stats: () => ({ ...counters, ...(durable ? { durable: durable.stats() } : {}) }), logStats: () => publisher.stats() });
}

/** Serves a manifest file; resolves to its pipeline name. */
async function loadFile(set: PipelineSet, path: string, runtimeOptions: RuntimeOptions): Promise<string> {
  const named: unknown = await readFile(path, "utf8").then((t) => (JSON.parse(t) as { pipeline?: unknown }).pipeline, () => undefined);
  const name = typeof named === "string" ? named : basename(path).replace(/\.json$/, "");
  await set.apply(name, async () => {
    const { manifest, baseDir } = await readManifestFile(path);
    return PipelineRuntime.create(manifest, filesBeside(baseDir), runtimeOptions);
  });
  return name;
}

function publishLogs(publisher: LogPublisher, subject: string, replies: readonly PartReply[], log: Logger): void {
  for (const r of replies) {
    if (!r.logs) continue;
    try {
      for (const record of r.logs()) publisher.publish(subject, record);
    } catch (err) {
      log.error({ err }, "building log records failed");
    }
  }
}

/** Runs request parts on a pipeline version, through its batcher where batching is on; `durable` parts always batch. */
type PartsRunner = (runtime: PipelineRuntime, parts: readonly EnvelopePart[], durable: boolean) => Promise<PartReply[]>;

function partsRunner(options: InferOptions, fallback: BatchWindow | false): PartsRunner {
  const batchers = new WeakMap<PipelineRuntime, Batcher>();
  const durableBatchers = new WeakMap<PipelineRuntime, Batcher>();
  const batcherOf = (runtime: PipelineRuntime, durable: boolean): Batcher | undefined => {
    const declared = runtime.batching;
    if (declared === false) return undefined;
    const window = declared ? { windowMs: declared.window_ms ?? MANIFEST_BATCHING.windowMs, maxBatch: declared.max_batch ?? MANIFEST_BATCHING.maxBatch }
        : fallback || undefined;
    const [map, w] = window ? [batchers, window] : durable ? [durableBatchers, DURABLE_BATCHING] : [undefined, undefined];
    if (!map || !w) return undefined;
    let b = map.get(runtime);
    if (!b) map.set(runtime, (b = new Batcher((parts) => inferParts(runtime, parts, options), w)));
    return b;
  };
  return async (runtime, parts, durable) => {
    runtime.acquire();
    try {
      const b = batcherOf(runtime, durable);
      return await (b ? b.submit(parts) : inferParts(runtime, parts, options));
    } finally {
      runtime.done();
    }
  };
}

/** Answers one message; resolves to the replies sent (for logging), none when nothing was asked. */
async function answer(nc: NatsConnection, entry: Entry, msg: Msg, run: PartsRunner, counters: InfererStats): Promise<PartReply[]> {
  if (!msg.reply) return [];
  const batch = batchSize(msg.headers);
  let parts: EnvelopePart[];
  try {
    parts = requestParts(msg.headers, msg.data);
  } catch (err) {
    const broken = errorReply(new FerryError("bad_request", `broken batch envelope: ${(err as Error).message}`));
    reply(msg, broken);
    return [broken];
  }
  counters.messages++;
  counters.requests += parts.length;
  const runtime = entry.runtime;
  const replies = runtime
    ? await run(runtime, parts, false)
    : parts.map(() => errorReply(new FerryError("pipeline_not_ready", `pipeline ${entry.name} is not serving: ${entry.detail ?? "still loading"}`)));
  const max = nc.info?.max_payload ?? Number.POSITIVE_INFINITY;
  if (batch === undefined) {
    reply(msg, fitReply(replies[0]!, max));
    return replies;
  }
  msg.respond(encodeEnvelope(fitEnvelope(replies, max).map(replyPart)), { headers: natsHeaders(batchHeaders(replies.length)) });
  return replies;
}

function reply(msg: Msg, r: PartReply): void {
  msg.respond(r.body, { headers: natsHeaders(replyHeaders(r)) });
}

const ENVELOPE_SLACK = 4096;

function tooLarge(size: number, max: number): PartReply {
  return errorReply(new FerryError("payload_too_large", `the reply (${size} bytes) exceeds the NATS max_payload of ${max} bytes; send fewer rows per request`));
}

function fitReply(r: PartReply, max: number): PartReply {
  return r.body.length + ENVELOPE_SLACK > max ? tooLarge(r.body.length, max) : r;
}

/** Replaces the largest replies with errors until the envelope fits in one NATS message. */
function fitEnvelope(replies: PartReply[], max: number): PartReply[] {
  let total = replies.reduce((n, r) => n + r.body.length + 200, ENVELOPE_SLACK);
  if (total <= max) return replies;
  const out = [...replies];
  const bySize = out.map((r, i) => [r.body.length, i] as const).sort((a, b) => b[0] - a[0]);
  for (const [size, i] of bySize) {
    if (total <= max) break;
    out[i] = tooLarge(size, max);
    total -= size - out[i].body.length;
  }
  return out;
}
