import {
  AckPolicy, jetstream, jetstreamManager, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg,
} from "@nats-io/jetstream";
import { nanos, type NatsConnection } from "@nats-io/transport-node";
import {
  FerryError, Headers, RequestStream, ResultStream, batchSize, isSubjectToken, replyHeaders, requestPart, resultSubject, submitConsumer, submitDevice, submitSubject, type EnvelopePart,
} from "@ferry/contracts";
import { natsHeaders, requireStreams } from "@ferry/runtime";
import type { Logger } from "pino";
import { errorReply, type PartReply } from "./infer-parts.js";
import { openWhenReady } from "./open-retry.js";

/** How a result's log records are written: before it (awaited, `--log-ack sync`) or after it. See ReplyLogs. */
export interface ResultLogs {
  before(pipeline: string, replies: readonly PartReply[]): Promise<void>;
  after(pipeline: string, replies: readonly PartReply[]): void;
}

/** Settings of durable (asynchronous) inference. */
export interface DurableOptions {
  /** Deliveries of one request; a request still unanswered after this many gets an error result. Default 5. */
  maxDeliveries?: number;
  /** A delivered request not acknowledged within this goes to an inferer again, ms. Default 30 000. */
  ackWaitMs?: number;
  /** Requests of one pipeline handed out and not yet acknowledged, across all inferers. Default 1024. */
  maxAckPending?: number;
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
/** How often FERRY_REQUESTS and FERRY_RESULTS are looked for again while missing, ms. */
const OPEN_RETRY_MS = 2000;

/** The result subject of a `<device>.<id>` token. */
function resultOf(pipeline: string, token: string): string {
  const dot = token.indexOf(".");
  return resultSubject(pipeline, token.slice(dot + 1), token.slice(0, dot));
}

/** One pipeline's consumer of durable requests, or the promise of it while its streams are missing. */
interface Follow {
  started: Promise<void>;
  messages?: ConsumerMessages;
  stopped: boolean;
  /** Resolves when unfollowed: a follow still waiting for the streams gives up then. */
  unfollowed: Promise<undefined>;
  unfollow(): void;
}

/**
 * Takes durable requests (`ferry.submit.<pipeline>.<device>`, and the shared device's old `ferry.submit.<pipeline>`;
 * stream FERRY_REQUESTS) through one shared durable consumer per pipeline, and writes each answer to
 * `ferry.result.<pipeline>.<device>.<id>` (stream FERRY_RESULTS), where only that device may read it,
 * before acknowledging the request. Failed inferences get an error result at once; a request that keeps
 * coming back unanswered (it crashed or stalled an inferer) gets one after `maxDeliveries`. The streams
 * are provisioned, never created here: until they exist, following a pipeline waits for them.
 */
export class DurableRequests {
  readonly #js: JetStreamClient;
  /** Resolves once both streams exist (undefined when closed first). */
  readonly #streams: Promise<JetStreamManager | undefined>;
  #jsm: JetStreamManager | undefined;
  #closed = false;
  readonly #firstTry: Promise<void>;
  readonly #run: DurableRun;
  readonly #logs: ResultLogs;
  readonly #log: Logger;
  readonly #maxDeliveries: number;
  readonly #options: DurableOptions;
  readonly #follows = new Map<string, Follow>();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #stats: DurableStats = { results: 0, errors: 0, duplicates: 0, retried: 0 };

  /** Starts looking for the durable streams; `answered` sees every result written (for logging). */
  constructor(nc: NatsConnection, run: DurableRun, logs: ResultLogs, log: Logger, options: DurableOptions = {}) {
    this.#js = jetstream(nc);
    const open = async (): Promise<JetStreamManager> => {
      const jsm = await jetstreamManager(nc);
      await requireStreams(jsm, [RequestStream, ResultStream]);
      return (this.#jsm = jsm);
    };
    let tried!: () => void;
    this.#firstTry = new Promise<void>((resolve) => { tried = resolve; });
    this.#streams = openWhenReady(open, { what: "durable request streams", log, everyMs: OPEN_RETRY_MS, stopped: () => this.#closed, report: () => tried() });
    this.#run = run;
    this.#logs = logs;
    this.#log = log;
    this.#options = options;
    this.#maxDeliveries = options.maxDeliveries ?? 5;
  }

  stats(): DurableStats {
    return { ...this.#stats };
  }

  /**
   * Resolves once the streams were looked for once and, if they exist, every pipeline followed so far
   * takes its requests (its consumer has this inferer's settings). Start-up awaits it, as it awaits
   * the deployments: a site not provisioned yet is waited out in the background.
   */
  async ready(): Promise<void> {
    await this.#firstTry;
    if (this.#jsm) await Promise.all([...this.#follows.values()].map((f) => f.started));
  }

  /** Starts taking the pipeline's durable requests (idempotent); resolves once taking them, or given up. */
  follow(pipeline: string): Promise<void> {
    let f = this.#follows.get(pipeline);
    if (!f) {
      let unfollow!: () => void;
      const unfollowed = new Promise<undefined>((resolve) => { unfollow = () => resolve(undefined); });
      const follow: Follow = { stopped: false, started: Promise.resolve(), unfollowed, unfollow };
      follow.started = this.#consume(pipeline, follow).catch((err: unknown) => {
        this.#log.error({ err, pipeline }, "cannot take durable requests");
        if (this.#follows.get(pipeline) === follow) this.#follows.delete(pipeline);
      });
      this.#follows.set(pipeline, (f = follow));
    }
    return f.started;
  }

  /** Stops taking the pipeline's requests; they stay queued for other inferers (or a later version). */
  async unfollow(pipeline: string): Promise<void> {
    const f = this.#follows.get(pipeline);
    this.#follows.delete(pipeline);
    if (!f) return;
    f.stopped = true;
    f.unfollow();
    // Once set up (consumer created with this inferer's settings), or given up waiting for the streams.
    await f.started;
    await f.messages?.close();
  }

  /** Stops taking requests (and looking for the streams) and waits for those being answered. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#follows.keys()].map((p) => this.unfollow(p)));
    await Promise.all([...this.#inFlight]);
  }

  async #consume(pipeline: string, follow: Follow): Promise<void> {
    const jsm = await Promise.race([this.#streams, follow.unfollowed]);
    if (!jsm || follow.stopped) return;
    const name = submitConsumer(pipeline);
    const config = {
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(this.#options.ackWaitMs ?? 30_000),
      // One delivery more than the tries: the last one only writes the error result.
      max_deliver: this.#maxDeliveries + 1,
      max_ack_pending: this.#options.maxAckPending ?? 1024,
      // Both forms; the update below also widens a consumer made before devices had their own subjects.
      filter_subjects: [submitSubject(pipeline), submitSubject(pipeline, "*")],
    };
    try {
      await jsm.consumers.add(RequestStream, { ...config, durable_name: name });
    } catch {
      // `filter_subject` undefined: nats.js merges the update over the old config, and the server refuses both filter forms at once.
      await jsm.consumers.update(RequestStream, name, { ...config, filter_subject: undefined });
    }
    if (follow.stopped) return;
    const consumer = await this.#js.consumers.get(RequestStream, name);
    follow.messages = await consumer.consume({
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
    // The device comes from the subject, which the server held to the submitting user's own name.
    const valid = isSubjectToken(id);
    const token = `${submitDevice(m.subject)}.${valid ? id : String(m.seq)}`;
    try {
      if (!valid) {
        await this.#finish(pipeline, m, token, errorReply(new FerryError("bad_request", `request id ${JSON.stringify(id.slice(0, 200))} is not a NATS subject token (letters, digits, _ and -); its result is under the stream sequence ${m.seq}`)));
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
    return (await this.#jsm!.direct.getMessage(ResultStream, { last_by_subj: resultOf(pipeline, token) })) !== null;
  }

  /**
   * Logs the answer (stored first with `--log-ack sync`), writes the result, then acknowledges the request:
   * a crash in between repeats the answer (and may log it twice), never loses it or its record.
   */
  async #finish(pipeline: string, m: JsMsg, token: string, reply: PartReply): Promise<void> {
    const id = token.slice(token.indexOf(".") + 1);
    const h = natsHeaders({ ...replyHeaders(reply), [Headers.requestId]: id, [Headers.deliveries]: String(m.info.deliveryCount) });
    await this.#logs.before(pipeline, [reply]);
    await this.#js.publish(resultOf(pipeline, token), reply.body, { headers: h, msgID: `${pipeline}.${token}` });
    m.ack();
    this.#stats.results++;
    if (reply.status >= 400) this.#stats.errors++;
    this.#logs.after(pipeline, [reply]);
  }
}
