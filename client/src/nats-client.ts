import { randomUUID } from "node:crypto";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { ResultStream, SharedDevice, Subjects, inferSubject, readReply, requestHeaders, resultSubject, submitSubject } from "@ferry/contracts";
import { natsConnectOptions, natsCredentials, natsHeaders } from "@ferry/runtime";
import { requireToken } from "./errors.js";
import { durableResult, iterateResults, waitForResult, type DurableResult, type ResultsOptions } from "./durable-results.js";
import { encodeInput, type InferInput } from "./input.js";
import { LinkState, untilAnswered } from "./link-state.js";
import { natsFailure } from "./nats-errors.js";
import { recordsFromReply, type InferenceRecord } from "./records.js";
import { SendBuffer } from "./send-buffer.js";

/** Options of {@link connectNats}. */
export interface NatsClientOptions {
  /**
   * The site's NATS server(s). Default `nats://127.0.0.1:4222`. A site that requires credentials takes
   * them in the URL (`nats://device:PASSWORD@host:4222`) or in `user`/`pass`.
   */
  servers?: string | string[];
  user?: string;
  pass?: string;
  /** A connection to use instead (the caller keeps owning it: `close()` leaves it open). */
  nc?: NatsConnection;
  /** How long `infer` waits for an answer, ms, the link's down time included. Default 30 s. */
  timeoutMs?: number;
  /** How long `submit` waits for JetStream's acknowledgement, ms, the link's down time included. Default 120 s. */
  submitTimeoutMs?: number;
  /** Most bytes of requests held until answered or acknowledged. Default 8 MiB. */
  maxBufferBytes?: number;
  /** Connection name the server shows. */
  name?: string;
  /**
   * The device whose durable requests and results these are (`ferry.submit.<pipeline>.<device>`): its NATS
   * user, which may submit and read only as itself. Default: the user of `user` or of the URL, else `device`.
   */
  device?: string;
}

/** Options of one inference over NATS. */
export interface NatsInferOptions {
  /** The pipeline to run; absent: the site's current pipeline (`ferry.infer`). */
  pipeline?: string;
  /** Sent as `Ferry-Request-Id`. */
  requestId?: string;
  /** Overrides the client's `timeoutMs`. */
  timeoutMs?: number;
}

/** Options of a durable submission. */
export interface SubmitOptions {
  /** The request id (a subject token); JetStream stores a request once per id. Default: a random UUID. */
  id?: string;
}

/** What JetStream acknowledged for a durable request. */
export interface Submitted {
  id: string;
  /** Sequence of the request in FERRY_REQUESTS. */
  seq: number;
  /**
   * True when a request with this id was stored already (within the de-duplication window), which
   * includes an earlier attempt of this same call that reached the stream just before the link dropped.
   */
  duplicate: boolean;
}

/** Options of {@link NatsFerryClient.result}. */
export interface ResultOptions {
  /** How long to wait for a result not stored yet, ms. Default 60 s. */
  timeoutMs?: number;
}

/** A device's client of a Ferry site over NATS: synchronous and durable inference. */
export interface NatsFerryClient {
  /** The connection in use. */
  readonly nc: NatsConnection;
  /** Whether the link to the site is up now (requests made while it is down are held). */
  readonly connected: boolean;
  /** Bytes of requests held now, waiting for an answer or an acknowledgement. */
  readonly bufferedBytes: number;
  /** Runs the input through a pipeline (request/reply on `ferry.infer[.<pipeline>]`): one record per row. */
  infer<V = unknown>(input: InferInput, options?: NatsInferOptions): Promise<InferenceRecord<V>[]>;
  /** Stores a durable request on `ferry.submit.<pipeline>.<device>`; resolves once JetStream acknowledges it. */
  submit(pipeline: string, input: InferInput, options?: SubmitOptions): Promise<Submitted>;
  /** The stored result of a durable request, waiting for it when it is not there yet. */
  result<V = unknown>(pipeline: string, id: string, options?: ResultOptions): Promise<DurableResult<V>>;
  /** A pipeline's results in stream order; never ends on its own (break out of the loop). */
  results<V = unknown>(pipeline: string, options?: ResultsOptions): AsyncIterable<DurableResult<V>>;
  /** Drains the connection (when the client opened it). */
  close(): Promise<void>;
}

// What a message costs beyond its body: subject, headers and protocol line, roughly.
const MESSAGE_OVERHEAD = 256;

/**
 * Connects to a site's NATS server (waiting for it if it is not up yet, reconnecting for ever) and
 * returns the client. Requests made while the link is down are held, up to `maxBufferBytes`.
 */
export async function connectNats(options: NatsClientOptions = {}): Promise<NatsFerryClient> {
  const url = Array.isArray(options.servers) ? options.servers.join(",") : options.servers;
  const nc = options.nc ?? await connect({
    ...natsConnectOptions(url),
    ...(options.user !== undefined ? { user: options.user, pass: options.pass } : {}),
    name: options.name,
    maxReconnectAttempts: -1,
    waitOnFirstConnect: true,
  });
  return new NatsClient(nc, options.nc === undefined, options);
}

/** The device a client submits as: the NATS user it logs in with (a device user's name is its device's). */
function deviceOf(o: NatsClientOptions): string {
  if (o.user !== undefined) return o.user;
  const servers = Array.isArray(o.servers) ? o.servers : o.servers === undefined ? [] : [o.servers];
  for (const url of servers) {
    const user = natsCredentials(url)?.user;
    if (user) return user;
  }
  return SharedDevice;
}

class NatsClient implements NatsFerryClient {
  readonly nc: NatsConnection;
  readonly #owned: boolean;
  readonly #link: LinkState;
  readonly #buffer: SendBuffer;
  readonly #js: JetStreamClient;
  readonly #timeoutMs: number;
  readonly #submitTimeoutMs: number;
  readonly #device: string;
  #jsm: Promise<JetStreamManager> | undefined;

  constructor(nc: NatsConnection, owned: boolean, o: NatsClientOptions) {
    this.nc = nc;
    this.#owned = owned;
    this.#link = LinkState.watch(nc);
    this.#buffer = new SendBuffer(o.maxBufferBytes ?? 8 * 1024 * 1024, this.#link);
    this.#js = jetstream(nc);
    this.#timeoutMs = o.timeoutMs ?? 30_000;
    this.#submitTimeoutMs = o.submitTimeoutMs ?? 120_000;
    this.#device = o.device ?? deviceOf(o);
    requireToken("device", this.#device);
  }

  get connected(): boolean {
    return this.#link.up;
  }

  get bufferedBytes(): number {
    return this.#buffer.bytes;
  }

  async infer<V>(input: InferInput, o: NatsInferOptions = {}): Promise<InferenceRecord<V>[]> {
    if (o.pipeline !== undefined) requireToken("pipeline", o.pipeline);
    const subject = o.pipeline === undefined ? Subjects.infer : inferSubject(o.pipeline);
    const { body, contentType } = encodeInput(input);
    const h = natsHeaders(requestHeaders({ contentType, requestId: o.requestId }));
    const release = this.#buffer.reserve(body.length + MESSAGE_OVERHEAD);
    try {
      const deadline = Date.now() + (o.timeoutMs ?? this.#timeoutMs);
      const reply = await untilAnswered(this.#link, deadline, subject, (timeout) => this.nc.request(subject, body, { timeout, headers: h }));
      return recordsFromReply<V>(readReply(reply.headers, reply.data).status, reply.data);
    } catch (err) {
      throw natsFailure(err, subject, "infer", this.#link);
    } finally {
      release();
    }
  }

  async submit(pipeline: string, input: InferInput, o: SubmitOptions = {}): Promise<Submitted> {
    const id = o.id ?? randomUUID();
    requireToken("pipeline", pipeline);
    requireToken("request id", id);
    const subject = submitSubject(pipeline, this.#device);
    const { body, contentType } = encodeInput(input);
    const h = natsHeaders(requestHeaders({ contentType, requestId: id }));
    const release = this.#buffer.reserve(body.length + MESSAGE_OVERHEAD);
    try {
      const deadline = Date.now() + this.#submitTimeoutMs;
      // The same msgID on every attempt: a request that reached the stream before the link dropped is not stored twice.
      const ack = await untilAnswered(this.#link, deadline, subject, (timeout) => this.#js.publish(subject, body, { msgID: `${this.#device}.${id}`, timeout, headers: h }));
      return { id, seq: ack.seq, duplicate: ack.duplicate };
    } catch (err) {
      throw natsFailure(err, subject, "submit", this.#link);
    } finally {
      release();
    }
  }

  async result<V>(pipeline: string, id: string, o: ResultOptions = {}): Promise<DurableResult<V>> {
    requireToken("pipeline", pipeline);
    requireToken("request id", id);
    const subject = resultSubject(pipeline, id, this.#device);
    const deadline = Date.now() + (o.timeoutMs ?? 60_000);
    try {
      await this.#link.waitUp(deadline, subject);
      const jsm = await this.#manager();
      const stored = await jsm.direct.getMessage(ResultStream, { last_by_subj: subject });
      if (stored) return durableResult<V>(pipeline, { subject: stored.subject, seq: stored.seq, data: stored.data, headers: stored.header });
      return await waitForResult<V>(this.#js, jsm, pipeline, subject, deadline);
    } catch (err) {
      throw natsFailure(err, subject, "read", this.#link);
    }
  }

  async *results<V>(pipeline: string, o: ResultsOptions = {}): AsyncGenerator<DurableResult<V>> {
    requireToken("pipeline", pipeline);
    if (o.durable !== undefined) requireToken("consumer name", o.durable);
    yield* iterateResults<V>(this.#js, await this.#manager(), pipeline, this.#device, o);
  }

  async close(): Promise<void> {
    if (this.#owned && !this.nc.isClosed()) await this.nc.drain();
  }

  #manager(): Promise<JetStreamManager> {
    // checkAPI off: the account-info round trip would fail while the link is down.
    this.#jsm ??= jetstreamManager(this.nc, { checkAPI: false });
    return this.#jsm;
  }
}
