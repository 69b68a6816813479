import { hostname, tmpdir } from "node:os";
import { readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { connect, headers, type Msg, type NatsConnection } from "@nats-io/transport-node";
import {
  FerryError, Headers, decodeEnvelope, encodeEnvelope, logSubject, serviceOf,
  type EnvelopePart, type InfererStatus, type Service,
} from "@ferry/contracts";
import { pino, type Logger } from "pino";
import { filesBeside, readManifestFile } from "./manifest-loader.js";
import { PipelineRuntime, type RuntimeOptions } from "./pipeline-runtime.js";
import { PipelineSet, type Entry } from "./pipeline-set.js";
import { watchDeployments } from "./deployment-watcher.js";
import { ArrowDecoder } from "./arrow-decoder.js";
import { LogPublisher, type LogPublisherOptions, type LogPublisherStats } from "./log-publisher.js";
import { errorReply, inferParts, type InferOptions, type PartReply } from "./infer-parts.js";

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
  /** An Arrow body still decoding after this long gets 400 (hostile input), ms. Default 10 000. */
  arrowDecodeTimeoutMs?: number;
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
}

/** Starts an inferer: serves its manifest files and what is deployed, answering `ferry.infer[.<pipeline>]` in the `ferry-inferers` queue group. */
export async function start(options: InfererOptions): Promise<Inferer> {
  const log = options.logger ?? pino({ name: "inferer" });
  const id = `inferer-${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const nc = options.nc ?? await connect({ servers: options.natsUrl ?? "nats://127.0.0.1:4222", name: "ferry-inferer", maxReconnectAttempts: -1, noAsyncTraces: true });
  const counters: InfererStats = { messages: 0, requests: 0, runs: 0 };
  const arrow = new ArrowDecoder({ timeoutMs: options.arrowDecodeTimeoutMs }).start();
  const publisher = new LogPublisher(nc, { ...options.logPublisher, logger: log });
  const logging = options.logRecords ?? true;
  const inferOptions: InferOptions & { counters: InfererStats } = {
    originalDataMaxValues: options.originalDataMaxValues ?? 1000,
    arrow,
    counters,
    ...(logging ? { log: { partition: options.partition ?? hostname(), dropBytes: options.logDropBytes ?? 100 * 1024 } } : {}),
  };
  const runtimeOptions = { intraOpThreads: options.intraOpThreads };
  const inFlight = new Set<Promise<void>>();
  const onMessage = (entry: Entry, msg: Msg): void => {
    const p = answer(nc, entry, msg, inferOptions).then((replies) => {
      // After the reply: logging never delays it.
      if (replies.some((r) => r.logs)) setImmediate(() => publishLogs(publisher, entry.name, replies, log));
    }, (err: unknown) => log.error({ err }, "reply failed"));
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };
  const set = new PipelineSet(nc, id, onMessage, log);
  const names = await Promise.all(options.manifests.map((path) => loadFile(set, path, runtimeOptions)));
  set.setCurrent(options.current ?? names[0]);
  const watch = options.watch ?? true
    ? await watchDeployments(nc, set, options.cacheDir ?? join(tmpdir(), `ferry-inferer-cache-${process.getuid?.() ?? 0}`), runtimeOptions, log)
    : undefined;
  await nc.flush();
  log.info({ id, pipelines: set.status().pipelines.map((p) => p.id), current: set.current }, "inferer ready");

  return serviceOf("inferer", async () => {
    await watch?.stop();
    const closing = set.close();
    await Promise.all([...inFlight]);
    await closing;
    await new Promise((r) => setImmediate(r));
    await publisher.flush(options.logPublisher?.ackTimeoutMs ?? 5000);
    publisher.close();
    await nc.drain();
    await arrow.close();
  }, { id, status: () => set.status(), stats: () => ({ ...counters }), logStats: () => publisher.stats() });
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

function publishLogs(publisher: LogPublisher, pipeline: string, replies: readonly PartReply[], log: Logger): void {
  const subject = logSubject(pipeline);
  for (const r of replies) {
    if (!r.logs) continue;
    try {
      for (const record of r.logs()) publisher.publish(subject, record);
    } catch (err) {
      log.error({ err }, "building log records failed");
    }
  }
}

/** Answers one message; resolves to the replies sent (for logging), none when nothing was asked. */
async function answer(nc: NatsConnection, entry: Entry, msg: Msg, options: InferOptions & { counters: InfererStats }): Promise<PartReply[]> {
  if (!msg.reply) return [];
  const batch = msg.headers?.get(Headers.batch);
  let parts: EnvelopePart[];
  try {
    parts = batch ? decodeEnvelope(msg.data, Number(batch)) : [{ headers: partHeaders(msg), body: msg.data }];
  } catch (err) {
    reply(msg, errorReply(new FerryError("bad_request", `broken batch envelope: ${(err as Error).message}`)));
    return [];
  }
  options.counters.messages++;
  options.counters.requests += parts.length;
  const runtime = entry.runtime;
  let replies: PartReply[];
  if (runtime) {
    runtime.acquire();
    try {
      replies = await inferParts(runtime, parts, options);
    } finally {
      runtime.done();
    }
  } else {
    replies = parts.map(() => errorReply(new FerryError("pipeline_not_ready", `pipeline ${entry.name} is not serving: ${entry.detail ?? "still loading"}`)));
  }
  const max = nc.info?.max_payload ?? Number.POSITIVE_INFINITY;
  if (!batch) {
    reply(msg, fitReply(replies[0]!, max));
    return replies;
  }
  const h = headers();
  h.set(Headers.batch, String(replies.length));
  msg.respond(encodeEnvelope(fitEnvelope(replies, max).map(asPart)), { headers: h });
  return replies;
}

function partHeaders(msg: Msg): Record<string, string> {
  const h: Record<string, string> = {};
  for (const name of [Headers.contentType, Headers.accept, Headers.splitKey, Headers.requestId]) {
    const value = msg.headers?.get(name);
    if (value) h[name] = value;
  }
  return h;
}

function asPart(r: PartReply): EnvelopePart {
  return { headers: { [Headers.status]: String(r.status), [Headers.contentType]: r.contentType }, body: r.body };
}

function reply(msg: Msg, r: PartReply): void {
  const h = headers();
  h.set(Headers.status, String(r.status));
  h.set(Headers.contentType, r.contentType);
  msg.respond(r.body, { headers: h });
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
