import {
  AckPolicy, jetstream, jetstreamManager, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg,
} from "@nats-io/jetstream";
import { nanos, type NatsConnection } from "@nats-io/transport-node";
import {
  FerryError, Headers, RequestStream, ResultStream, batchSize, isSubjectToken, replyHeaders, requestPart, resultSubject, submitConsumer, submitSubject, type EnvelopePart,
} from "@ferry/contracts";
import { ensureDurableStreams, natsHeaders, type DurableStorage } from "@ferry/runtime";
import type { Logger } from "pino";
import { errorReply, type PartReply } from "./infer-parts.js";

/** Settings of durable (asynchronous) inference. */
export interface DurableOptions {
  /** Deliveries of one request; a request still unanswered after this many gets an error result. Default 5. */
  maxDeliveries?: number;
  /** A delivered request not acknowledged within this goes to an inferer again, ms. Default 30 000. */
  ackWaitMs?: number;
  /** Requests of one pipeline handed out and not yet acknowledged, across all inferers. Default 1024. */
  maxAckPending?: number;
  /** Bounds applied to FERRY_REQUESTS and FERRY_RESULTS when the inferer creates or updates them. */
  storage?: DurableStorage;
}

/** What durable inference has done since start. */
export interface DurableStats {
  /** Results written (errors included). */
  results: number;
  /** Of those, error results. */
  errors: number;
  /** Requests skipped because their id already had a result. */
  duplicates: number;
  /** Deliveries handed back for a later try (pipeline not serving, NATS trouble). */
  retried: number;
}

/** Runs one request on the pipeline's serving version; undefined when the pipeline is not serving here now. */
export type DurableRun = (pipeline: string, part: EnvelopePart) => Promise<PartReply | undefined>;

const RETRY_DELAY_MS = 1000;

/**
 * Takes durable requests (`ferry.submit.<pipeline>`, stream FERRY_REQUESTS) through one shared durable
 * consumer per pipeline, and writes each answer to `ferry.result.<pipeline>.<id>` (stream FERRY_RESULTS)
 * before acknowledging the request. Failed inferences get an error result at once; a request that keeps
 * coming back unanswered (it crashed or stalled an inferer) gets one after `maxDeliveries`.
 */
export class DurableRequests {
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #run: DurableRun;
  readonly #answered: (pipeline: string, reply: PartReply) => void;
  readonly #log: Logger;
  readonly #maxDeliveries: number;
  readonly #options: DurableOptions;
  readonly #follows = new Map<string, Promise<ConsumerMessages | undefined>>();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #stats: DurableStats = { results: 0, errors: 0, duplicates: 0, retried: 0 };

  private constructor(nc: NatsConnection, jsm: JetStreamManager, run: DurableRun, answered: (pipeline: string, reply: PartReply) => void, log: Logger, options: DurableOptions) {
    this.#js = jetstream(nc);
    this.#jsm = jsm;
    this.#run = run;
    this.#answered = answered;
    this.#log = log;
    this.#options = options;
    this.#maxDeliveries = options.maxDeliveries ?? 5;
  }

  /** Creates or updates the durable streams; `answered` sees every result written (for logging). */
  static async open(nc: NatsConnection, run: DurableRun, answered: (pipeline: string, reply: PartReply) => void, log: Logger, options: DurableOptions = {}): Promise<DurableRequests> {
    const jsm = await jetstreamManager(nc);
    await ensureDurableStreams(jsm, options.storage);
    return new DurableRequests(nc, jsm, run, answered, log, options);
  }

  stats(): DurableStats {
    return { ...this.#stats };
  }

  /** Starts taking the pipeline's durable requests (idempotent). */
  follow(pipeline: string): Promise<void> {
    if (!this.#follows.has(pipeline)) {
      this.#follows.set(pipeline, this.#consume(pipeline).catch((err: unknown) => {
        this.#log.error({ err, pipeline }, "cannot take durable requests");
        this.#follows.delete(pipeline);
        return undefined;
      }));
    }
    return this.#follows.get(pipeline)!.then(() => undefined);
  }

  /** Stops taking the pipeline's requests; they stay queued for other inferers (or a later version). */
  async unfollow(pipeline: string): Promise<void> {
    const follow = this.#follows.get(pipeline);
    this.#follows.delete(pipeline);
    await (await follow)?.close();
  }

  /** Stops taking requests and waits for those being answered. */
  async close(): Promise<void> {
    await Promise.all([...this.#follows.keys()].map((p) => this.unfollow(p)));
    await Promise.all([...this.#inFlight]);
  }

  async #consume(pipeline: string): Promise<ConsumerMessages> {
    const name = submitConsumer(pipeline);
    const config = {
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(this.#options.ackWaitMs ?? 30_000),
      // One delivery more than the tries: the last one only writes the error result.
      max_deliver: this.#maxDeliveries + 1,
      max_ack_pending: this.#options.maxAckPending ?? 1024,
    };
    try {
      await this.#jsm.consumers.add(RequestStream, { ...config, durable_name: name, filter_subject: submitSubject(pipeline) });
    } catch {
      await this.#jsm.consumers.update(RequestStream, name, config);
    }
    const consumer = await this.#js.consumers.get(RequestStream, name);
    return consumer.consume({
      max_messages: 256,
      callback: (m) => {
        const p = this.#handle(pipeline, m);
        this.#inFlight.add(p);
        void p.finally(() => this.#inFlight.delete(p));
      },
    });
  }

  async #handle(pipeline: string, m: JsMsg): Promise<void> {
    const id = m.headers?.get(Headers.requestId) || m.headers?.get(Headers.msgId) || String(m.seq);
    const token = isSubjectToken(id) ? id : String(m.seq);
    try {
      if (token !== id) {
        await this.#finish(pipeline, m, token, errorReply(new FerryError("bad_request", `request id ${JSON.stringify(id.slice(0, 200))} is not a NATS subject token (letters, digits, _ and -); its result is under the stream sequence ${token}`)));
      } else if (m.info.deliveryCount > this.#maxDeliveries) {
        await this.#finish(pipeline, m, token, errorReply(new FerryError("delivery_limit", `request ${id} was delivered ${this.#maxDeliveries} times without an answer (it may crash or stall the inferer); giving up`)));
      } else if (batchSize(m.headers) !== undefined) {
        await this.#finish(pipeline, m, token, errorReply(new FerryError("bad_request", "a durable request carries one request, not a batch envelope")));
      } else if (await this.#hasResult(pipeline, token)) {
        this.#stats.duplicates++;
        m.ack();
      } else {
        const reply = await this.#run(pipeline, requestPart(m.headers, m.data));
        if (reply) await this.#finish(pipeline, m, token, reply);
        else this.#retry(m);
      }
    } catch (err) {
      this.#log.warn({ err, pipeline, id }, "durable request handed back for a later try");
      this.#retry(m);
    }
  }

  #retry(m: JsMsg): void {
    this.#stats.retried++;
    m.nak(RETRY_DELAY_MS);
  }

  async #hasResult(pipeline: string, token: string): Promise<boolean> {
    return (await this.#jsm.direct.getMessage(ResultStream, { last_by_subj: resultSubject(pipeline, token) })) !== null;
  }

  /** Writes the result, then acknowledges the request (so a crash in between repeats the answer, never loses it). */
  async #finish(pipeline: string, m: JsMsg, token: string, reply: PartReply): Promise<void> {
    const h = natsHeaders({ ...replyHeaders(reply), [Headers.requestId]: token, [Headers.deliveries]: String(m.info.deliveryCount) });
    await this.#js.publish(resultSubject(pipeline, token), reply.body, { headers: h, msgID: `${pipeline}.${token}` });
    m.ack();
    this.#stats.results++;
    if (reply.status >= 400) this.#stats.errors++;
    this.#answered(pipeline, reply);
  }
}
