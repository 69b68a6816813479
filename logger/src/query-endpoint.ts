import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { Subjects } from "@ferry/contracts";
import { EndpointCounter } from "@ferry/runtime";
import type { Logger } from "pino";
import type { LogReader } from "./log-query.js";
import type { LogStreamWatch } from "./log-stream.js";
import type { LoggerMetrics } from "./logger-metrics.js";
import { answerQuery } from "./query-reply.js";

/** Queue group of loggers: each `/logs` query is answered once. */
export const LoggerQueue = "ferry-loggers";

/** The `ferry.logs.query` subscription and its counters (for discovery). */
export interface QueryEndpoint {
  readonly counter: EndpointCounter;
  drain(): Promise<void>;
}

/** Answers `ferry.logs.query` in the loggers' queue group, counting and logging each answer. */
export function serveLogQueries(nc: NatsConnection, reader: LogReader, store: LogStreamWatch, metrics: LoggerMetrics, log: Logger): QueryEndpoint {
  const counter = new EndpointCounter("query", Subjects.logsQuery, LoggerQueue);
  const sub: Subscription = nc.subscribe(Subjects.logsQuery, {
    queue: LoggerQueue,
    callback: (err, msg) => {
      if (err) return;
      const t0 = performance.now();
      void answerQuery(msg, reader, store).then((r) => {
        counter.record((performance.now() - t0) * 1e6, r.error);
        metrics.query(r.status);
        // 503 and 504 say JetStream is away or slow, which the store's own warnings report; a query that
        // JetStream failed is said here, as nothing else may (a stream deleted under a running logger).
        if (r.store) log.warn({ error: r.error }, "logs query failed in JetStream");
        else if (r.status >= 500 && r.status !== 503 && r.status !== 504) log.error({ error: r.error }, "logs query failed");
      }, (e: unknown) => log.error({ err: e }, "logs query failed"));
    },
  });
  return { counter, drain: () => sub.drain() };
}
