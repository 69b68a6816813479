import type { Msg, NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { InferEndpoints } from "./infer-endpoints.js";
import { answerMessage, type AnswerCounters } from "./message-replies.js";
import type { PartsRunner } from "./parts-runner.js";
import type { Entry } from "./pipeline-set.js";
import type { ReplyLogs } from "./reply-logs.js";
import type { PartReply } from "./infer-parts.js";

/** Handles the inference messages of every pipeline served: answers, counts, logs, and tracks those in flight. */
export class InferHandler {
  readonly endpoints = new InferEndpoints();
  readonly #nc: NatsConnection;
  readonly #runner: PartsRunner;
  readonly #counters: AnswerCounters;
  readonly #logs: ReplyLogs;
  readonly #log: Logger;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(nc: NatsConnection, runner: PartsRunner, counters: AnswerCounters, logs: ReplyLogs, log: Logger) {
    this.#nc = nc;
    this.#runner = runner;
    this.#counters = counters;
    this.#logs = logs;
    this.#log = log;
  }

  /** For PipelineSet: one message to a pipeline's subject. */
  readonly onMessage = (entry: Entry, msg: Msg): void => {
    const endpoint = this.endpoints.of(msg.subject);
    const t0 = performance.now();
    const before = this.#logs.ack === "sync" ? (replies: readonly PartReply[]) => this.#logs.before(entry.name, replies) : undefined;
    const p = answerMessage(this.#nc, entry, msg, this.#runner, this.#counters, before).then((replies) => {
      if (replies.length > 0) endpoint.answered(replies, (performance.now() - t0) * 1e6);
      for (const r of replies) if (r.failure) this.#log.error({ err: r.failure.cause ?? r.failure, code: r.failure.code, pipeline: entry.name }, "inference failed");
      this.#logs.after(entry.name, replies);
    }, (err: unknown) => this.#log.error({ err }, "reply failed"));
    this.#inFlight.add(p);
    void p.finally(() => this.#inFlight.delete(p));
  };

  /** Resolves once the messages being answered now are answered. */
  async settled(): Promise<void> {
    await Promise.all([...this.#inFlight]);
  }
}
