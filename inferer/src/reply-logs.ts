import { logSubject } from "@ferry/contracts";
import type { Logger } from "pino";
import type { PartReply } from "./infer-parts.js";
import type { LogPublisher } from "./log-publisher.js";

/** Publishes the log records of answered requests, after their replies are sent: logging never delays a reply. */
export class ReplyLogs {
  readonly #publisher: LogPublisher;
  readonly #partition: string;
  readonly #log: Logger;

  constructor(publisher: LogPublisher, partition: string, log: Logger) {
    this.#publisher = publisher;
    this.#partition = partition;
    this.#log = log;
  }

  /** Logs the records of `replies` to a pipeline (those without records are skipped). */
  readonly after = (pipeline: string, replies: readonly PartReply[]): void => {
    if (replies.some((r) => r.logs)) setImmediate(() => this.#publish(logSubject(pipeline, this.#partition), replies));
  };

  /** Logs one reply (a durable result). */
  readonly answered = (pipeline: string, reply: PartReply): void => this.after(pipeline, [reply]);

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
