import { setTimeout as sleep } from "node:timers/promises";
import type { Msg, MsgHdrs, NatsConnection } from "@nats-io/transport-node";
import { FerryError, Headers, batchHeaders, batchReplies, batchSize, encodeEnvelope, envelopePartSize, inputFormatOf, readReply, type EnvelopePart, type InferReply, type InputFormat } from "@ferry/contracts";
import { RequestMux, isNoResponders, natsHeaders } from "@ferry/runtime";
import { natsError } from "./upstream-errors.js";

/** An HTTP request as it crosses NATS: body bytes and the headers that say how to read and answer it. */
export interface ForwardRequest {
  body: Uint8Array;
  headers: Record<string, string>;
  /** The body's format, when the caller read it from the content type already (else it is read here). */
  format?: InputFormat | undefined;
}

/** The inferer's answer, as the gateway copies it back. */
export type ForwardReply = InferReply;

/** What a reply without a content type is read as (the inferer always sets one). */
const UNTYPED = "application/octet-stream";

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
  /**
   * How many inferers answer a subject, when known: a lane keeps at most that many requests in flight
   * (at least one, at most `maxInFlight`), see StatusView.
   */
  inferers?: (subject: string) => number | undefined;
}

interface Pending {
  req: ForwardRequest;
  size: number;
  resolve: (r: ForwardReply) => void;
  reject: (e: unknown) => void;
}

interface Lane {
  subject: string;
  queue: Pending[];
  inFlight: number;
}

const ENVELOPE_SLACK = 1024;

/**
 * Arrow bodies and the others (JSON) queue apart: an Arrow body is decoded on a thread with a time budget
 * and a hostile one holds its envelope for that long, which a JSON request coalesced with it would wait
 * for. Each lane has its own `maxInFlight`.
 */
function laneKey(subject: string, req: ForwardRequest): string {
  return (req.format ?? inputFormatOf(req.headers[Headers.contentType])) === "arrow" ? `${subject} arrow` : subject;
}

/** Long enough for an inferer to resubscribe after its server failed over (it reconnects at once on loopback or a LAN). */
const NO_RESPONDERS_RETRY_MS = 150;

/**
 * Sends requests to a subject, coalescing those that wait for the same subject into one batch
 * envelope while earlier ones are in flight. A lone request goes at once and alone, so nothing is
 * delayed; under load one NATS message carries many requests (see DESIGN.md, "Batches on the wire").
 */
export class Coalescer {
  readonly #nc: NatsConnection;
  readonly #mux: RequestMux;
  readonly #options: CoalescerOptions;
  readonly #lanes = new Map<string, Lane>();
  /** Set while the connection is down: requests fail at once instead of waiting out their timeout. */
  #down = false;
  /** Batches in flight: failed at once when the connection drops (see `connectionLost`). */
  readonly #inFlight = new Set<Pending[]>();

  constructor(nc: NatsConnection, options: CoalescerOptions) {
    this.#nc = nc;
    this.#mux = new RequestMux(nc);
    this.#options = options;
  }

  /**
   * Sends one request; rejects with FerryError `no_inferer`, `inferer_timeout`, `payload_too_large` or
   * `bad_gateway`. A request that reached no inferer is retried once first (see `#request`).
   */
  send(subject: string, req: ForwardRequest): Promise<ForwardReply> {
    if (this.#down) return Promise.reject(serverAway("is not reachable"));
    const size = envelopePartSize(req.headers, req.body.length);
    const max = this.#maxPayload();
    if (size + ENVELOPE_SLACK > max) {
      return Promise.reject(new FerryError("payload_too_large", `request body of ${req.body.length} bytes exceeds the NATS max_payload of ${max} bytes`));
    }
    const key = laneKey(subject, req);
    let lane = this.#lanes.get(key);
    if (!lane) this.#lanes.set(key, (lane = { subject, queue: [], inFlight: 0 }));
    return new Promise<ForwardReply>((resolve, reject) => {
      lane.queue.push({ req, size, resolve, reject });
      this.#pump(key, lane);
    });
  }

  /**
   * The connection dropped: requests in flight fail now with 503 `unavailable`, and new ones until it is
   * back. A request in flight went through the server that went away, so its reply cannot come; the
   * inferer may still have run it (as after a timeout).
   */
  connectionLost(): void {
    this.#down = true;
    const lost = serverAway("went away while the request was in flight; it may or may not have run");
    // A settled request ignores the reply or timeout that may still come for it.
    for (const batch of this.#inFlight) for (const p of batch) p.reject(lost);
    this.#inFlight.clear();
    for (const lane of this.#lanes.values()) for (const p of lane.queue.splice(0)) p.reject(lost);
    // Fresh lanes: the old ones' in-flight slots stay taken until their requests time out.
    this.#lanes.clear();
  }

  connectionBack(): void {
    this.#down = false;
  }

  #maxPayload(): number {
    return this.#nc.info?.max_payload ?? 1024 * 1024;
  }

  /** Requests a lane may have in flight: `maxInFlight`, or fewer when fewer inferers answer its subject. */
  #limit(subject: string): number {
    const max = this.#options.maxInFlight;
    const inferers = this.#options.inferers?.(subject);
    return inferers === undefined ? max : Math.min(max, Math.max(1, inferers));
  }

  #pump(key: string, lane: Lane): void {
    const limit = this.#limit(lane.subject);
    while (lane.inFlight < limit && lane.queue.length > 0) {
      const batch = this.#take(lane);
      lane.inFlight++;
      void this.#dispatch(lane.subject, batch).finally(() => {
        lane.inFlight--;
        if (lane.queue.length > 0) this.#pump(key, lane);
        else if (lane.inFlight === 0 && this.#lanes.get(key) === lane) this.#lanes.delete(key);
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
    this.#inFlight.add(batch);
    try {
      await this.#exchange(subject, batch);
    } catch (err) {
      const e = natsError(err, subject, this.#options.timeoutMs);
      for (const p of batch) p.reject(e);
    } finally {
      this.#inFlight.delete(batch);
    }
  }

  /** Sends one request or one envelope and resolves each request of the batch with its reply. */
  async #exchange(subject: string, batch: Pending[]): Promise<void> {
    if (batch.length === 1) {
      const only = batch[0]!;
      const msg = await this.#request(subject, only.req.body, natsHeaders(only.req.headers));
      only.resolve(readReply(msg.headers, msg.data, UNTYPED));
      return;
    }
    const body = encodeEnvelope(batch.map((p): EnvelopePart => ({ headers: p.req.headers, body: p.req.body })));
    const msg = await this.#request(subject, body, natsHeaders(batchHeaders(batch.length)));
    if (batchSize(msg.headers) === undefined) {
      // An error for the whole envelope (e.g. a broken frame): every request gets it.
      const r = readReply(msg.headers, msg.data, UNTYPED);
      for (const p of batch) p.resolve(r);
      return;
    }
    batchReplies(msg.data, batch.length, UNTYPED).forEach((r, i) => batch[i]!.resolve(r));
  }

  /**
   * One NATS request, retried once after a short pause when it reached no inferer. "No responders"
   * means nothing ran, so the retry cannot run an inference twice; it bridges the moment when a
   * nats-server of a cluster died and the inferers behind it are reconnecting to another one.
   * Timeouts are not retried: the inferer may have run the request.
   */
  async #request(subject: string, body: Uint8Array, h: MsgHdrs): Promise<Msg> {
    try {
      return await this.#mux.request(subject, body, h, this.#options.timeoutMs);
    } catch (err) {
      if (!isNoResponders(err)) throw err;
      await sleep(this.#options.noRespondersRetryMs ?? NO_RESPONDERS_RETRY_MS);
      return await this.#mux.request(subject, body, h, this.#options.timeoutMs);
    }
  }
}

function serverAway(what: string): FerryError {
  return new FerryError("unavailable", `the site's NATS server ${what}; retry shortly`);
}

