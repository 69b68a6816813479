import { hostname } from "node:os";
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { headers, type Msg, type NatsConnection } from "@nats-io/transport-node";
import { FerryError, Headers, LogPagingHeaders, LogStream, MediaTypes, Subjects, asFerryError, outputFormatOf, parseLogQuery } from "@ferry/contracts";
import { EndpointCounter, serveDiscovery, serviceOf, type Service, connectService } from "@ferry/runtime";
import { answerMetrics } from "@ferry/runtime";
import { pino, type Logger } from "pino";
import { LogReader } from "./log-query.js";
import { ensureLogStream, prunedCount, type LogStorage } from "./log-stream.js";
import { logsToArrow } from "./logs-arrow.js";
import { LoggerMetrics } from "./logger-metrics.js";

/** How to start the logger service. */
export interface LoggerOptions {
  natsUrl?: string;
  nc?: NatsConnection;
  /** Bounds of the local log store. Default: 10 GiB, no age limit, 1 replica. */
  storage?: Partial<LogStorage>;
  /**
   * The stream to answer from. Default FERRY_LOGS, which the logger creates and bounds. Another name
   * (the Ops hub's FERRY_LOGS_ALL, which sources every edge's logs) is read as its owner made it.
   */
  stream?: string;
  logger?: Logger;
}

/** What the log store holds now. Each stream message holds a batch of records (see LogPublisher). */
export interface LogStoreStats {
  messages: number;
  bytes: number;
  /** Messages removed from the front because the store was full or they aged out. */
  prunedMessages: number;
}

/** A running logger. */
export interface LogService extends Service {
  /** Reads the stream's state. */
  stats(): Promise<LogStoreStats>;
}

/** Queue group of loggers: each `/logs` query is answered once. */
export const LoggerQueue = "ferry-loggers";

/** Starts the logger: owns stream FERRY_LOGS and answers `ferry.logs.query`. */
export async function start(options: LoggerOptions = {}): Promise<LogService> {
  const log = options.logger ?? pino({ name: "logger" });
  const storage: LogStorage = { maxBytes: 10 * 1024 ** 3, maxAgeMs: 0, replicas: 1, ...options.storage };
  const nc = options.nc ?? await connectService("ferry-logger", options.natsUrl);
  const jsm = await jetstreamManager(nc);
  const stream = options.stream ?? LogStream;
  const reader = new LogReader(jetstream(nc), jsm, stream);
  let ready = false;
  let lastPruned = 0;
  const ensure = async (): Promise<void> => {
    const info = stream === LogStream ? await ensureLogStream(jsm, storage) : await jsm.streams.info(stream);
    lastPruned = prunedCount(info);
    ready = true;
    log.info({ stream, maxBytes: storage.maxBytes, maxAgeMs: storage.maxAgeMs, messages: info.state.messages, prunedMessages: lastPruned }, "log stream ready");
  };
  await ensure().catch((err: unknown) => log.error({ err }, "log stream not ready; retrying"));
  const timer = setInterval(() => {
    if (!ready) {
      void ensure().catch((err: unknown) => log.warn({ err: (err as Error).message }, "log stream still not ready"));
      return;
    }
    void storeStats(jsm, stream).then((s) => {
      if (s.prunedMessages > lastPruned) log.warn({ prunedMessages: s.prunedMessages, newly: s.prunedMessages - lastPruned }, "log store full or aged: oldest records pruned");
      lastPruned = s.prunedMessages;
    }, () => undefined);
  }, 5000);
  timer.unref();
  const id = `logger-${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const metrics = new LoggerMetrics(nc, id, () => storeStats(jsm, stream));
  const endpoint = new EndpointCounter("query", Subjects.logsQuery, LoggerQueue);
  const sub = nc.subscribe(Subjects.logsQuery, {
    queue: LoggerQueue,
    callback: (err, msg) => {
      if (err) return;
      const t0 = performance.now();
      void answer(msg, reader, () => ready).then((r) => {
        endpoint.record((performance.now() - t0) * 1e6, r.error);
        metrics.query(r.status);
        if (r.status >= 500 && r.status !== 503 && r.status !== 504) log.error({ error: r.error }, "logs query failed");
      }, (e: unknown) => log.error({ err: e }, "logs query failed"));
    },
  });
  const metricsSub = answerMetrics(nc, metrics.registry);
  const discovery = serveDiscovery(nc, {
    name: "ferry-logger", id, description: `Ferry logger: answers ferry.logs.query (POST /logs) from stream ${stream}`,
    metadata: { ferry_id: id, stream },
    endpoints: () => [endpoint.info()],
    stats: () => [endpoint.stats()],
  });
  await nc.flush();
  return serviceOf("logger", async () => {
    clearInterval(timer);
    await discovery.stop();
    await metricsSub.drain();
    await sub.drain();
    await nc.drain();
  }, { stats: () => storeStats(jsm, stream) });
}

async function storeStats(jsm: JetStreamManager, stream: string): Promise<LogStoreStats> {
  const info = await jsm.streams.info(stream);
  return { messages: info.state.messages, bytes: info.state.bytes, prunedMessages: prunedCount(info) };
}

/** Answers one query; resolves to the status sent and, for an error, what went wrong. */
async function answer(msg: Msg, reader: LogReader, ready: () => boolean): Promise<{ status: number; error?: string }> {
  const h = headers();
  try {
    const query = parseLogQuery(msg.data);
    const format = outputFormatOf(msg.headers?.get(Headers.accept));
    if (!format) throw new FerryError("not_acceptable", "/logs answers application/json; format=pandas-records or application/vnd.apache.arrow.file");
    if (!ready()) throw new FerryError("logs_unavailable", "the log store is not ready yet (JetStream unavailable)");
    const page = await reader.page(query);
    h.set(Headers.status, "200");
    h.set(LogPagingHeaders.cursor, page.cursor);
    h.set(LogPagingHeaders.status, page.status);
    const datas = page.records.map((r) => r.data);
    if (format === "arrow-file") {
      h.set(Headers.contentType, MediaTypes.arrowFile);
      msg.respond(logsToArrow(datas), { headers: h });
    } else {
      h.set(Headers.contentType, MediaTypes.pandasRecords);
      msg.respond(joinRecords(datas), { headers: h });
    }
    return { status: 200 };
  } catch (err) {
    const e = asFerryError(err);
    h.set(Headers.status, String(e.status));
    h.set(Headers.contentType, MediaTypes.json);
    msg.respond(JSON.stringify(e.toBody()), { headers: h });
    return { status: e.status, error: `${e.status} ${e.code}: ${e.message}` };
  }
}

/** `[r1,r2,…]` from stored JSON records, without parsing them. */
function joinRecords(datas: readonly Uint8Array[]): Uint8Array {
  let size = 2 + Math.max(0, datas.length - 1);
  for (const d of datas) size += d.length;
  const out = new Uint8Array(size);
  out[0] = 0x5b;
  let at = 1;
  datas.forEach((d, i) => {
    if (i > 0) out[at++] = 0x2c;
    out.set(d, at);
    at += d.length;
  });
  out[at] = 0x5d;
  return out;
}
