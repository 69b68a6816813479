import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import { answerMetrics, connectService, serveDiscovery, serviceOf, type Service } from "@ferry/runtime";
import { pino, type Logger } from "pino";
import { ArrowDecoder } from "./arrow-decoder.js";
import type { BatchWindow } from "./batcher.js";
import { watchDeployments } from "./deployment-watcher.js";
import { DurableRequests, type DurableOptions, type DurableStats } from "./durable-requests.js";
import { InferHandler } from "./infer-handler.js";
import type { InferOptions } from "./infer-parts.js";
import { InfererMetrics } from "./inferer-metrics.js";
import { LogPublisher, type LogPublisherOptions, type LogPublisherStats } from "./log-publisher.js";
import { serveManifestFiles } from "./manifest-files.js";
import { PartsRunner, durableRunner } from "./parts-runner.js";
import type { RuntimeOptions } from "./pipeline-runtime.js";
import { PipelineSet, type InfererReport } from "./pipeline-set.js";
import { ReplyLogs, type LogAck } from "./reply-logs.js";

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
  /** Send a reply only once its log records are acknowledged (`sync`), or at once (`async`). Default sync. See ReplyLogs. */
  logAck?: LogAck;
  /** Inputs of a record larger than this are left out of its log record (named in `dropped`), bytes. Default 100 KiB. */
  logDropBytes?: number;
  /** Log publishing limits. */
  logPublisher?: Omit<LogPublisherOptions, "logger">;
  /** Watch the deployments bucket and serve what is deployed there. Default true. */
  watch?: boolean;
  /** Folder for the local copies of deployed models and manifests. Default: a folder in the OS temp dir. */
  cacheDir?: string;
  /** An Arrow body still decoding after this long on its thread gets 400 (hostile input), ms. Default 3000. */
  arrowDecodeTimeoutMs?: number;
  /** Threads decoding Arrow bodies, one body each at a time. Default {@link defaultDecoderThreads}. */
  arrowDecodeThreads?: number;
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
  status(): InfererReport;
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

/** Starts an inferer: serves its manifest files and what is deployed, answering `ferry.infer[.<pipeline>]` in the `ferry-inferers` queue group. */
export async function start(options: InfererOptions): Promise<Inferer> {
  const log = options.logger ?? pino({ name: "inferer" });
  const id = `inferer-${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const nc = options.nc ?? await connectService("ferry-inferer", options.natsUrl);
  const counters: InfererStats = { messages: 0, requests: 0, runs: 0 };
  const metrics = new InfererMetrics(nc, id);
  const arrow = new ArrowDecoder({ timeoutMs: options.arrowDecodeTimeoutMs, threads: options.arrowDecodeThreads }).start();
  const publisher = new LogPublisher(nc, { ...options.logPublisher, logger: log });
  const replyLogs = new ReplyLogs(publisher, options.partition ?? hostname(), log, options.logAck ?? "sync");
  const runner = new PartsRunner(inferOptions(options, arrow, counters, metrics), options.batching ?? false);
  const handler = new InferHandler(nc, runner, counters, replyLogs, log);
  const set = new PipelineSet(nc, id, handler.onMessage, log);
  const durable = options.durable === false ? undefined : new DurableRequests(nc, durableRunner(set, runner, counters), replyLogs, log, options.durable);
  set.notify(servingHooks(metrics, durable));
  metrics.track({ runs: () => counters.runs, endpoints: handler.endpoints, publisher, ...(durable ? { durable } : {}) });
  const metricsSub = answerMetrics(nc, metrics.registry);
  const discovery = serveDiscovery(nc, handler.endpoints.discoverable(id, () => set.subjects()));
  const runtimeOptions: RuntimeOptions = { intraOpThreads: options.intraOpThreads, stepTimer: (pipeline, model) => metrics.stepTimer(pipeline, model) };
  const names = await serveManifestFiles(set, options.manifests, runtimeOptions);
  set.setCurrent(options.current ?? names[0]);
  const watch = options.watch ?? true ? await watchDeployments(nc, set, cacheDirOf(options), runtimeOptions, log) : undefined;
  await durable?.ready();
  await nc.flush();
  log.info({ id, pipelines: set.status().pipelines.map((p) => p.id), current: set.current }, "inferer ready");
  const stop = async (): Promise<void> => {
    await Promise.all([discovery.stop(), metricsSub.drain(), watch?.stop(), durable?.close()]);
    await stopServing(set, handler, publisher, options.logPublisher?.ackTimeoutMs ?? 5000);
    await nc.drain();
    await arrow.close();
  };
  return serviceOf("inferer", stop, { id, status: () => set.status(), stats: () => ({ ...counters, ...(durable ? { durable: durable.stats() } : {}) }), logStats: () => publisher.stats() });
}

/** The inference path's settings, from the inferer's options. */
function inferOptions(o: InfererOptions, arrow: ArrowDecoder, counters: InfererStats, metrics: InfererMetrics): InferOptions {
  return {
    originalDataMaxValues: o.originalDataMaxValues ?? 1000,
    arrow,
    counters,
    observeRun: (pipeline, requests, rows) => metrics.observeRun(pipeline, requests, rows),
    ...(o.logRecords ?? true ? { log: { partition: o.partition ?? hostname(), dropBytes: o.logDropBytes ?? 100 * 1024 } } : {}),
  };
}

/** What a pipeline's changes mean to the metrics and to durable inference (which takes only pipelines served here). */
function servingHooks(metrics: InfererMetrics, durable: DurableRequests | undefined): Parameters<PipelineSet["notify"]>[0] {
  return {
    serving: (name, replaced) => {
      void durable?.follow(name);
      metrics.deployment(name, replaced ? "replaced" : "loaded");
    },
    failed: (name) => metrics.deployment(name, "failed"),
    removed: (name) => void durable?.unfollow(name),
  };
}

/** Stops taking messages, lets those in flight finish, then publishes their log records (up to `ackTimeoutMs`). */
async function stopServing(set: PipelineSet, handler: InferHandler, publisher: LogPublisher, ackTimeoutMs: number): Promise<void> {
  const closing = set.close();
  await handler.settled();
  await closing;
  // Records are published on the turn after each reply (see ReplyLogs).
  await new Promise((r) => setImmediate(r));
  await publisher.flush(ackTimeoutMs);
  publisher.close();
}

function cacheDirOf(o: InfererOptions): string {
  return o.cacheDir ?? join(tmpdir(), `ferry-inferer-cache-${process.getuid?.() ?? 0}`);
}
