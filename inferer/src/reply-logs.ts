import { logSubject } from "@ferry/contracts";
import type { Logger } from "pino";
import type { PartReply } from "./infer-parts.js";
import type { LogPublisher } from "./log-publisher.js";

/**
 * When a reply may go relative to its log records: `async`, at once (records follow within `flushMs`; a
 * crash of the inferer loses those not yet acknowledged), or `sync`, once JetStream acknowledged them
 * (no answered inference without its stored record; a reply waits one publish and its disk sync).
 */
export type LogAck = "sync" | "async";

/** Publishes the log records of answered requests: after their replies (async) or before them (sync). */
export class ReplyLogs {
  readonly #publisher: LogPublisher;
  readonly #partition: string;
  readonly #log: Logger;
  readonly ack: LogAck;

  constructor(publisher: LogPublisher, partition: string, log: Logger, ack: LogAck = "async") {
    this.#publisher = publisher;
    this.#partition = partition;
    this.#log = log;
    this.ack = ack;
  }

  /**
   * Sync mode: stores the records of `replies` and resolves once JetStream acknowledged them (the replies
   * go after). Rejects when they cannot be buffered. Async mode: resolves at once (see `after`).
   */
  readonly before = async (pipeline: string, replies: readonly PartReply[]): Promise<void> => {
    if (this.ack !== "sync") return;
    const records: string[] = [];
    for (const r of replies) if (r.logs) records.push(...r.logs());
    await this.#publisher.published(logSubject(pipeline, this.#partition), records);
  };

  /** Logs the records of `replies` to a pipeline (those without records are skipped). */
  readonly after = (pipeline: string, replies: readonly PartReply[]): void => {
    if (this.ack === "async" && replies.some((r) => r.logs)) setImmediate(() => this.#publish(logSubject(pipeline, this.#partition), replies));
  };


  #publish(subject: string, replies: readonly PartReply[]): void {
    for (const r of replies) {
      if (!r.logs) continue;
      try {
        for (const record of r.logs()) this.#publisher.publish(subject, record);
      } catch (err) {
        this.#log.error({ err }, "building log records failed");
      }
    }
  }
}
