import type { NatsConnection } from "@nats-io/transport-node";
import { Counter, Gauge, type Registry } from "prom-client";
import { registerNatsMetrics, serviceRegistry, setCounter } from "@ferry/runtime";
import type { LogStoreStats } from "./log-stream.js";

/** How long a scrape waits for fresh stream figures before reporting the last ones, ms. */
const STATS_WAIT_MS = 200;

/**
 * The logger's metrics (`service="logger"`): what its stream holds (read when scraped, from the last
 * figures if JetStream is slow to answer) and the queries it answered.
 */
export class LoggerMetrics {
  readonly registry: Registry;
  readonly #queries: Counter<"code">;
  #last: LogStoreStats = { messages: 0, bytes: 0, prunedMessages: 0 };

  constructor(nc: NatsConnection, instance: string, read: () => Promise<LogStoreStats>) {
    this.registry = serviceRegistry({ service: "logger", instance });
    const registers = [this.registry];
    const fresh = async (): Promise<LogStoreStats> => {
      const got = await Promise.race([read().catch(() => undefined), new Promise<undefined>((r) => setTimeout(() => r(undefined), STATS_WAIT_MS).unref())]);
      if (got) this.#last = got;
      return this.#last;
    };
    // One stream read per scrape: the first collector fetches, the others reuse it.
    let pending: Promise<LogStoreStats> | undefined;
    const stats = (): Promise<LogStoreStats> => (pending ??= fresh().finally(() => setImmediate(() => { pending = undefined; })));
    new Gauge({ name: "ferry_logger_stored_messages", help: "Messages in the log stream (each holds a batch of records).", registers, async collect() { this.set((await stats()).messages); } });
    new Gauge({ name: "ferry_logger_stored_bytes", help: "Bytes in the log stream.", registers, async collect() { this.set((await stats()).bytes); } });
    new Counter({
      name: "ferry_logger_pruned_messages_total", help: "Messages removed from the front of the log stream (store full or aged out) since it was created.", registers,
      async collect() { setCounter(this, (await stats()).prunedMessages); },
    });
    this.#queries = new Counter({ name: "ferry_logger_queries_total", help: "Log queries (POST /logs pages) answered, by HTTP status.", labelNames: ["code"], registers });
    registerNatsMetrics(this.registry, nc);
  }

  /** Counts one answered query. */
  query(status: number): void {
    this.#queries.inc({ code: String(status) });
  }
}
