import { hostname } from "node:os";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { LogStream } from "@ferry/contracts";
import { answerMetrics, connectService, serveDiscovery, serviceOf, type DiscoverableService, type Service } from "@ferry/runtime";
import { pino, type Logger } from "pino";
import { LogReader } from "./log-query.js";
import { LogStreamWatch, type LogStoreStats } from "./log-stream.js";
import { LoggerMetrics } from "./logger-metrics.js";
import { serveLogQueries, type QueryEndpoint } from "./query-endpoint.js";

export { LoggerQueue } from "./query-endpoint.js";
export type { LogStoreStats } from "./log-stream.js";

/** How to start the logger service. */
export interface LoggerOptions {
  natsUrl?: string;
  nc?: NatsConnection;
  /**
   * The stream to answer from: the site's FERRY_LOGS (default), or the Ops hub's FERRY_LOGS_ALL, which
   * sources every edge's logs. Either is provisioned, with its bounds, before services start.
   */
  stream?: string;
  logger?: Logger;
}

/** A running logger. */
export interface LogService extends Service {
  /** Reads the stream's state. */
  stats(): Promise<LogStoreStats>;
}

/** Starts the logger: opens the log stream (FERRY_LOGS) and answers `ferry.logs.query` from it. */
export async function start(options: LoggerOptions = {}): Promise<LogService> {
  const log = options.logger ?? pino({ name: "logger" });
  const id = `logger-${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const stream = options.stream ?? LogStream;
  const nc = options.nc ?? await connectService("ferry-logger", options.natsUrl);
  const jsm = await jetstreamManager(nc);
  const store = await LogStreamWatch.open(jsm, stream, log);
  const metrics = new LoggerMetrics(nc, id, () => store.stats());
  const queries = serveLogQueries(nc, new LogReader(jetstream(nc), jsm, stream), store, metrics, log);
  const metricsSub = answerMetrics(nc, metrics.registry);
  const discovery = serveDiscovery(nc, discoverable(id, stream, queries));
  await nc.flush();
  return serviceOf("logger", async () => {
    store.stop();
    await discovery.stop();
    await metricsSub.drain();
    await queries.drain();
    await nc.drain();
  }, { stats: () => store.stats() });
}

/** What `$SRV` discovery says about this logger. */
function discoverable(id: string, stream: string, queries: QueryEndpoint): DiscoverableService {
  return {
    name: "ferry-logger", id, description: `Ferry logger: answers ferry.logs.query (POST /logs) from stream ${stream}`,
    metadata: { ferry_id: id, stream },
    endpoints: () => [queries.counter.info()],
    stats: () => [queries.counter.stats()],
  };
}
