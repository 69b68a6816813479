import { JetStreamApiError, JetStreamError, PubHeaders, type ApiError } from "@nats-io/jetstream";
import type { Msg, NatsConnection } from "@nats-io/transport-node";
import { encodeLogBatch } from "@ferry/contracts";
import { RequestMux, isJetStreamUnavailable, natsHeaders, watchConnection } from "@ferry/runtime";
import type { Logger } from "pino";

/** Limits of the log publisher. */
export interface LogPublisherOptions {
  /** Records held while JetStream is slow or away; beyond this they are counted as overflow. Default 100 000. */
  maxBuffered?: number;
  /** Publishes awaiting their JetStream ack at once. Default 256. */
  maxInFlight?: number;
  /** How long to wait for an ack before retrying, ms. Default 5000. */
  ackTimeoutMs?: number;
  /** Pause after a failed publish before retrying, ms. Default 500. */
  retryDelayMs?: number;
  /** Records wait at most this long to share one stream message, ms. Default 50. */
  flushMs?: number;
  /** Most records in one stream message. Default 1000. */
  maxBatchRecords?: number;
  /** Most bytes in one stream message. Default 512 KiB. */
  maxBatchBytes?: number;
  logger?: Logger;
}

/** What the publisher has done since it started. */
export interface LogPublisherStats {
  /** Records JetStream acknowledged. */
  published: number;
  /** Records waiting (queued or awaiting an ack). */
  buffered: number;
  /** Records refused because the buffer was full. */
  overflow: number;
  /** Publishes that failed and were retried. */
  retries: number;
}

interface Item {
  subject: string;
  data: string;
  headers: Record<string, string>;
  records: number;
  id: string;
  /** Told once JetStream acknowledged the message (callers of `published`). */
  acked: (() => void)[];
  /** Bumped each time the item goes out; an answer to an earlier attempt is ignored. */
  attempt: number;
}

interface Batch {
  lines: string[];
  bytes: number;
  acked: (() => void)[];
}

/**
 * Publishes log records to JetStream without ever blocking an inference. Records of one pipeline that
 * arrive within `flushMs` share one stream message (a log batch, see @ferry/contracts' log-batch): a
 * JetStream publish and its ack cost far more than a record, and one message per row halved inference
 * throughput here. Each message is acknowledged (with a message id, so a retry is stored once);
 * failures are retried after a pause; records that do not fit in the bounded buffer are counted and
 * reported.
 */
export class LogPublisher {
  /** JetStream publishes are requests whose reply is the stream's ack; see RequestMux for why not `js.publish`. */
  readonly #mux: RequestMux;
  readonly #o: Required<Omit<LogPublisherOptions, "logger">>;
  readonly #log: Logger | undefined;
  readonly #idPrefix = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}-`;
  #nextId = 0;
  #queue: Item[] = [];
  #head = 0;
  #inFlight = 0;
  #pausedUntil = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  #lastOverflowReport = 0;
  #overflowReported = 0;
  readonly #stats: LogPublisherStats = { published: 0, buffered: 0, overflow: 0, retries: 0 };
  readonly #batches = new Map<string, Batch>();
  #batched = 0;
  #queuedRecords = 0;
  #inFlightRecords = 0;
  #flushTimer: NodeJS.Timeout | undefined;
  #idle: (() => void)[] = [];
  readonly #sent = new Set<Item>();

  constructor(nc: NatsConnection, options: LogPublisherOptions = {}) {
    this.#mux = new RequestMux(nc);
    this.#o = {
      maxBuffered: options.maxBuffered ?? 100_000,
      maxInFlight: options.maxInFlight ?? 256,
      ackTimeoutMs: options.ackTimeoutMs ?? 5000,
      retryDelayMs: options.retryDelayMs ?? 500,
      flushMs: options.flushMs ?? 50,
      maxBatchRecords: options.maxBatchRecords ?? 1000,
      maxBatchBytes: options.maxBatchBytes ?? 512 * 1024,
    };
    this.#log = options.logger;
    watchConnection(nc, (e) => { if (e === "reconnect") this.#resend(); });
  }

  /** Queues one record (JSON text) for `subject`. */
  publish(subject: string, data: string): void {
    if (!this.#add(subject, data)) return;
    this.#flushTimer ??= setTimeout(() => this.#flushAll(), this.#o.flushMs);
  }

  /**
   * Queues `records` for `subject` and resolves once JetStream has acknowledged them (stored, and with
   * `sync_interval: always`, on disk). They go out with this tick's other records, not after `flushMs`.
   * Rejects when the buffer is full or no ack came within `ackTimeoutMs`: the caller must not answer as
   * if they were logged.
   */
  published(subject: string, records: readonly string[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    if (this.#pending() + records.length > this.#o.maxBuffered) {
      this.#stats.overflow += records.length;
      this.#reportOverflow();
      return Promise.reject(new Error(`the log buffer is full (${this.#o.maxBuffered} records waiting for JetStream)`));
    }
    return new Promise<void>((resolve, reject) => {
      // Not stored within the ack timeout (JetStream away, no stream): the caller answers with an error.
      // The records stay queued and are stored once JetStream takes them (a record without an answer).
      const timer = setTimeout(() => reject(new Error(`not acknowledged by JetStream within ${this.#o.ackTimeoutMs} ms`)), this.#o.ackTimeoutMs);
      // A long request's records can fill more than one message: resolved when all of them are acked.
      const waits = new Set<(() => void)[]>();
      for (const r of records) waits.add(this.#add(subject, r)!);
      let left = waits.size;
      for (const w of waits) w.push(() => { if (--left === 0) { clearTimeout(timer); resolve(); } });
      this.#flushSoon();
    });
  }

  #soon: NodeJS.Immediate | undefined;

  /**
   * Seals the waiting records this tick, unless a publish is being acknowledged already: then they wait
   * for it and go together (a group commit). Each acknowledged publish costs a disk sync; under load many
   * replies then share one, while a lone request still goes at once.
   */
  #flushSoon(): void {
    if (this.#inFlight > 0) {
      this.#flushAfterAck = true;
      return;
    }
    this.#soon ??= setImmediate(() => { this.#soon = undefined; this.#flushAll(); });
  }

  #flushAfterAck = false;

  /** Adds one record to its subject's batch (sealed when full); its batch's ack callbacks, none when the buffer is full. */
  #add(subject: string, data: string): (() => void)[] | undefined {
    if (this.#pending() >= this.#o.maxBuffered) {
      this.#stats.overflow++;
      this.#reportOverflow();
      return undefined;
    }
    let batch = this.#batches.get(subject);
    if (!batch) this.#batches.set(subject, (batch = { lines: [], bytes: 0, acked: [] }));
    batch.lines.push(data);
    batch.bytes += data.length + 1;
    this.#batched++;
    if (batch.lines.length >= this.#o.maxBatchRecords || batch.bytes >= this.#o.maxBatchBytes) this.#seal(subject, batch);
    return batch.acked;
  }

  #flushAll(): void {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    for (const [subject, batch] of this.#batches) this.#seal(subject, batch);
  }

  /** Turns a pipeline's waiting records into one queued message. */
  #seal(subject: string, batch: Batch): void {
    this.#batches.delete(subject);
    this.#batched -= batch.lines.length;
    this.#queuedRecords += batch.lines.length;
    this.#queue.push({ subject, ...encodeLogBatch(batch.lines), records: batch.lines.length, id: this.#idPrefix + (this.#nextId++).toString(36), acked: batch.acked, attempt: 0 });
    this.#pump();
  }

  stats(): LogPublisherStats {
    return { ...this.#stats, buffered: this.#pending() };
  }

  /** Publishes what waits now and resolves when every record is acknowledged, or after `timeoutMs`. */
  async flush(timeoutMs: number): Promise<void> {
    clearTimeout(this.#flushTimer);
    this.#flushAll();
    if (this.#pending() === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.#idle.push(() => { clearTimeout(timer); resolve(); });
    });
  }

  /** Stops retrying. */
  close(): void {
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#flushTimer);
    for (const f of this.#idle.splice(0)) f();
  }

  /** Records not yet acknowledged. */
  #pending(): number {
    return this.#batched + this.#queuedRecords + this.#inFlightRecords;
  }

  #pump(): void {
    if (Date.now() < this.#pausedUntil) return;
    while (this.#inFlight < this.#o.maxInFlight && this.#head < this.#queue.length) this.#send(this.#queue[this.#head++]!);
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }

  #send(item: Item): void {
    const attempt = ++item.attempt;
    this.#inFlight++;
    this.#sent.add(item);
    this.#queuedRecords -= item.records;
    this.#inFlightRecords += item.records;
    const headers = natsHeaders(item.headers);
    headers.set(PubHeaders.MsgIdHdr, item.id);
    this.#mux.request(item.subject, Buffer.from(item.data), headers, this.#o.ackTimeoutMs).then(
      (ack) => {
        checkPubAck(ack);
        if (item.attempt !== attempt) return;
        this.#stats.published += item.records;
        for (const f of item.acked) f();
      },
      (err: unknown) => { if (item.attempt === attempt) this.#retry(item, err); },
    ).finally(() => { if (item.attempt === attempt) this.#settled(item); });
  }

  /** An item's publish is over (acknowledged, or failed and queued again). */
  #settled(item: Item): void {
    if (!this.#sent.delete(item)) return;
    this.#inFlight--;
    this.#inFlightRecords -= item.records;
    if (this.#flushAfterAck && this.#inFlight === 0) {
      this.#flushAfterAck = false;
      this.#flushAll();
    }
    this.#pump();
    if (this.#pending() === 0) for (const f of this.#idle.splice(0)) f();
  }

  /**
   * After a reconnect, sends again what was awaiting an ack: a publish lost with the old connection (or
   * the server that died) is never answered, and waiting out its ack timeout would hold every reply in
   * the meantime, since new records wait for the publish in flight (the group commit). The message id
   * makes JetStream store a message that did arrive only once.
   */
  #resend(): void {
    const items = [...this.#sent];
    if (items.length === 0) return;
    for (const item of items) {
      item.attempt++;
      this.#sent.delete(item);
      this.#inFlight--;
      this.#inFlightRecords -= item.records;
      this.#queuedRecords += item.records;
    }
    this.#queue.splice(this.#head, 0, ...items);
    this.#stats.retries += items.length;
    this.#pausedUntil = 0;
    this.#pump();
    if (this.#flushAfterAck && this.#inFlight === 0) {
      this.#flushAfterAck = false;
      this.#flushAll();
    }
  }

  #retry(item: Item, err: unknown): void {
    this.#stats.retries++;
    this.#queue.splice(this.#head, 0, item);
    this.#queuedRecords += item.records;
    if (Date.now() >= this.#pausedUntil) {
      if (Date.now() - this.#lastWarn >= 10_000) {
        this.#lastWarn = Date.now();
        // nats.js raises JetStreamNotEnabled when no stream takes the subject (nobody answers the publish).
        const noStream = isJetStreamUnavailable(err);
        const hint = noStream ? "no stream stores log records yet: has the site been provisioned (stream FERRY_LOGS, `ferry start`)?" : undefined;
        this.#log?.warn({ err: (err as Error).message, buffered: this.#pending(), ...(hint ? { hint } : {}) }, "log publish failed; retrying (records are held, up to the buffer limit)");
      }
      this.#pausedUntil = Date.now() + this.#o.retryDelayMs;
      clearTimeout(this.#retryTimer);
      // A timer may fire a millisecond before Date.now() reaches #pausedUntil (the two clocks round
      // differently); #pump would then return and nothing would wake it again. End the pause here.
      this.#retryTimer = setTimeout(() => { this.#pausedUntil = 0; this.#pump(); }, this.#o.retryDelayMs);
    }
  }

  #lastWarn = 0;

  #reportOverflow(): void {
    const now = Date.now();
    if (now - this.#lastOverflowReport < 10_000) return;
    this.#log?.error({ overflow: this.#stats.overflow, newly: this.#stats.overflow - this.#overflowReported, maxBuffered: this.#o.maxBuffered }, "log buffer full: records not logged");
    this.#lastOverflowReport = now;
    this.#overflowReported = this.#stats.overflow;
  }
}

const decoder = new TextDecoder();

/**
 * Reads a JetStream publish ack (what nats.js's `js.publish` checks): the stream's refusal becomes its
 * JetStreamApiError; an ack naming no stream is not an ack. No responders (no stream takes the subject)
 * comes from the mux as nats.js's NoRespondersError, which `isJetStreamUnavailable` recognises.
 */
function checkPubAck(msg: Msg): void {
  const ack = JSON.parse(decoder.decode(msg.data)) as { stream?: string; error?: ApiError };
  if (ack.error) throw new JetStreamApiError(ack.error);
  if (!ack.stream) throw new JetStreamError("invalid JetStream publish ack");
}
