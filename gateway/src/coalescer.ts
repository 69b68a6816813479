import { setTimeout as sleep } from "node:timers/promises";
import { errors, headers, type Msg, type MsgHdrs, type NatsConnection } from "@nats-io/transport-node";
import { FerryError, Headers, decodeEnvelope, encodeEnvelope, envelopePartSize, type EnvelopePart } from "@ferry/contracts";

/** An HTTP request as it crosses NATS: body bytes and the headers that say how to read and answer it. */
export interface ForwardRequest {
  body: Uint8Array;
  headers: Record<string, string>;
}

/** The inferer's answer, as the gateway copies it back. */
export interface ForwardReply {
  status: number;
  contentType: string;
  body: Uint8Array;
}

/** Coalescing limits. */
export interface CoalescerOptions {
  /** Reply timeout per NATS request, ms. */
  timeoutMs: number;
  /** NATS requests in flight per subject; further requests queue and go together as one envelope. */
  maxInFlight: number;
  /** Most requests in one envelope. */
  maxBatch: number;
  /** Pause before the one retry of a request that reached no inferer, ms. Default 150. */
  noRespondersRetryMs?: number;
}

interface Pending {
  req: ForwardRequest;
  size: number;
  resolve: (r: ForwardReply) => void;
  reject: (e: unknown) => void;
}

interface Lane {
  queue: Pending[];
  inFlight: number;
}

const ENVELOPE_SLACK = 1024;

/** Long enough for an inferer to resubscribe after its server failed over (it reconnects at once on loopback or a LAN). */
const NO_RESPONDERS_RETRY_MS = 150;

/**
 * Sends requests to a subject, coalescing those that wait for the same subject into one batch
 * envelope while earlier ones are in flight. A lone request goes at once and alone, so nothing is
 * delayed; under load one NATS message carries many requests (see DESIGN.md, "Batches on the wire").
 */
export class Coalescer {
  readonly #nc: NatsConnection;
  readonly #options: CoalescerOptions;
  readonly #lanes = new Map<string, Lane>();

  constructor(nc: NatsConnection, options: CoalescerOptions) {
    this.#nc = nc;
    this.#options = options;
  }

  /**
   * Sends one request; rejects with FerryError `no_inferer`, `inferer_timeout`, `payload_too_large` or
   * `bad_gateway`. A request that reached no inferer is retried once first (see `#request`).
   */
  send(subject: string, req: ForwardRequest): Promise<ForwardReply> {
    const size = envelopePartSize(req.headers, req.body.length);
    const max = this.#maxPayload();
    if (size + ENVELOPE_SLACK > max) {
      return Promise.reject(new FerryError("payload_too_large", `request body of ${req.body.length} bytes exceeds the NATS max_payload of ${max} bytes`));
    }
    let lane = this.#lanes.get(subject);
    if (!lane) this.#lanes.set(subject, (lane = { queue: [], inFlight: 0 }));
    return new Promise<ForwardReply>((resolve, reject) => {
      lane.queue.push({ req, size, resolve, reject });
      this.#pump(subject, lane);
    });
  }

  #maxPayload(): number {
    return this.#nc.info?.max_payload ?? 1024 * 1024;
  }

  #pump(subject: string, lane: Lane): void {
    while (lane.inFlight < this.#options.maxInFlight && lane.queue.length > 0) {
      const batch = this.#take(lane);
      lane.inFlight++;
      void this.#dispatch(subject, batch).finally(() => {
        lane.inFlight--;
        if (lane.queue.length > 0) this.#pump(subject, lane);
        else if (lane.inFlight === 0) this.#lanes.delete(subject);
      });
    }
  }

  #take(lane: Lane): Pending[] {
    const budget = this.#maxPayload() - ENVELOPE_SLACK;
    let bytes = 0;
    let n = 0;
    while (n < lane.queue.length && n < this.#options.maxBatch && (n === 0 || bytes + lane.queue[n]!.size <= budget)) {
      bytes += lane.queue[n]!.size;
      n++;
    }
    return lane.queue.splice(0, n);
  }

  async #dispatch(subject: string, batch: Pending[]): Promise<void> {
    try {
      if (batch.length === 1) {
        const only = batch[0]!;
        const h = headers();
        for (const [k, v] of Object.entries(only.req.headers)) h.set(k, v);
        only.resolve(replyOf(await this.#request(subject, only.req.body, h)));
        return;
      }
      const h = headers();
      h.set(Headers.batch, String(batch.length));
      const body = encodeEnvelope(batch.map((p): EnvelopePart => ({ headers: p.req.headers, body: p.req.body })));
      const msg = await this.#request(subject, body, h);
      if (!msg.headers?.get(Headers.batch)) {
        // An error for the whole envelope (e.g. a broken frame): every request gets it.
        const r = replyOf(msg);
        for (const p of batch) p.resolve(r);
        return;
      }
      const parts = decodeEnvelope(msg.data, batch.length);
      parts.forEach((part, i) => batch[i]!.resolve({
        status: Number(part.headers[Headers.status] ?? 200),
        contentType: part.headers[Headers.contentType] ?? "application/octet-stream",
        body: part.body,
      }));
    } catch (err) {
      const e = natsError(err, subject, this.#options.timeoutMs);
      for (const p of batch) p.reject(e);
    }
  }

  /**
   * One NATS request, retried once after a short pause when it reached no inferer. "No responders"
   * means nothing ran, so the retry cannot run an inference twice; it bridges the moment when a
   * nats-server of a cluster died and the inferers behind it are reconnecting to another one.
   * Timeouts are not retried: the inferer may have run the request.
   */
  async #request(subject: string, body: Uint8Array, h: MsgHdrs): Promise<Msg> {
    const opts = { timeout: this.#options.timeoutMs, headers: h };
    try {
      return await this.#nc.request(subject, body, opts);
    } catch (err) {
      if (!isNoResponders(err)) throw err;
      await sleep(this.#options.noRespondersRetryMs ?? NO_RESPONDERS_RETRY_MS);
      return await this.#nc.request(subject, body, opts);
    }
  }
}

function replyOf(msg: Msg): ForwardReply {
  return {
    status: Number(msg.headers?.get(Headers.status) || 200),
    contentType: msg.headers?.get(Headers.contentType) || "application/octet-stream",
    body: msg.data,
  };
}

/** Maps a NATS request failure to a FerryError. */
export function natsError(err: unknown, subject: string, timeoutMs: number): FerryError {
  if (err instanceof FerryError) return err;
  if (isNoResponders(err)) return new FerryError("no_inferer", `no inferer is answering ${subject}`, { cause: err });
  if (err instanceof errors.TimeoutError || (err instanceof errors.RequestError && err.cause instanceof errors.TimeoutError)) {
    return new FerryError("inferer_timeout", `no reply on ${subject} within ${timeoutMs} ms`, { cause: err });
  }
  return new FerryError("bad_gateway", `request on ${subject} failed: ${(err as Error).message}`, { cause: err });
}

/** Whether a NATS request failed because nobody subscribes to the subject. */
export function isNoResponders(err: unknown): boolean {
  return err instanceof errors.NoRespondersError || (err instanceof errors.RequestError && err.isNoResponders());
}
