// Helpers of bench/devices.ts, durable part: submitting requests to ferry.submit.<pipeline> with a bounded
// number of publishes awaiting acks, and collecting their results from stream FERRY_RESULTS.
import { setTimeout as sleep } from "node:timers/promises";
import { DeliverPolicy, type ConsumerMessages, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";
import { Headers, ResultStream, Subjects, submitSubject } from "@ferry/contracts";

const publishTries = 5;

/** How a submission went. */
export interface Submitted {
  /** From the first publish to the last ack, s. */
  seconds: number;
  /** Publishes answered `duplicate` by JetStream (none expected: every id is new). */
  duplicates: number;
  /** Publishes that failed and were sent again (same Nats-Msg-Id, so stored once). */
  retries: number;
}

/** Publishes `ids.length` requests (`Ferry-Request-Id` and msgID = the id), at most `inFlight` awaiting acks. */
export async function submitAll(js: JetStreamClient, pipeline: string, contentType: string, body: string, ids: readonly string[], inFlight: number): Promise<Submitted> {
  const out: Submitted = { seconds: 0, duplicates: 0, retries: 0 };
  let next = 0;
  const publishOne = async (id: string): Promise<void> => {
    const h = headers();
    h.set(Headers.contentType, contentType);
    h.set(Headers.requestId, id);
    for (let tries = 1; ; tries++) {
      try {
        if ((await js.publish(submitSubject(pipeline), body, { headers: h, msgID: id })).duplicate) out.duplicates++;
        return;
      } catch (err) {
        if (tries >= publishTries) throw err;
        out.retries++;
      }
    }
  };
  const worker = async (): Promise<void> => {
    for (let i = next++; i < ids.length; i = next++) await publishOne(ids[i]!);
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: Math.min(inFlight, ids.length) }, worker));
  out.seconds = (performance.now() - start) / 1000;
  return out;
}

/** What a collector has seen. */
export interface Collected {
  /** Distinct request ids of this run with a result. */
  results: number;
  /** Results with Ferry-Status 200. */
  ok: number;
  /** Results by any other Ferry-Status. */
  otherStatuses: Record<string, number>;
  /** Result messages for an id already seen. */
  repeats: number;
  /** performance.now() ms of the first and the latest result. */
  firstAt: number;
  lastAt: number;
  /** True when results stopped coming before all were in. */
  stalled: boolean;
}

/** Follows `ferry.result.<pipeline>.>` from a stream sequence on, counting the results of ids with a prefix. */
export class ResultCollector {
  readonly #prefix: string;
  readonly #ids = new Set<string>();
  readonly #seen: Collected = { results: 0, ok: 0, otherStatuses: {}, repeats: 0, firstAt: Number.NaN, lastAt: Number.NaN, stalled: false };
  #messages: ConsumerMessages | undefined;

  private constructor(prefix: string) {
    this.#prefix = prefix;
  }

  /** Starts following at the stream's next sequence, so only results written from now on count. */
  static async open(js: JetStreamClient, jsm: JetStreamManager, pipeline: string, prefix: string): Promise<ResultCollector> {
    const c = new ResultCollector(prefix);
    const fromSeq = (await jsm.streams.info(ResultStream)).state.last_seq + 1;
    const consumer = await js.consumers.get(ResultStream, {
      filter_subjects: `${Subjects.resultPrefix}${pipeline}.>`, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: fromSeq,
    });
    c.#messages = await consumer.consume({ max_messages: 1000, callback: (m) => c.#take(m.subject, m.headers?.get(Headers.status) || "none") });
    return c;
  }

  #take(subject: string, status: string): void {
    const id = subject.slice(subject.lastIndexOf(".") + 1);
    if (!id.startsWith(this.#prefix)) return;
    if (this.#ids.has(id)) {
      this.#seen.repeats++;
      return;
    }
    this.#ids.add(id);
    const now = performance.now();
    if (this.#seen.results++ === 0) this.#seen.firstAt = now;
    this.#seen.lastAt = now;
    if (status === "200") this.#seen.ok++;
    else this.#seen.otherStatuses[status] = (this.#seen.otherStatuses[status] ?? 0) + 1;
  }

  /** Resolves once `n` results are in, or no new one came for `stallMs` (then `stalled` is true). */
  async waitFor(n: number, stallMs: number): Promise<Collected> {
    let count = -1;
    let progressAt = performance.now();
    while (this.#seen.results < n) {
      if (this.#seen.results !== count) [count, progressAt] = [this.#seen.results, performance.now()];
      if (performance.now() - progressAt > stallMs) return { ...this.#seen, stalled: true };
      await sleep(20);
    }
    return { ...this.#seen };
  }

  async close(): Promise<void> {
    await this.#messages?.close();
  }
}
