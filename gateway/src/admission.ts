import type { FastifyInstance, FastifyRequest } from "fastify";
import { FerryError } from "@ferry/contracts";

/** Bounds on what one gateway holds for the inferers at once. */
export interface AdmissionLimits {
  /** Inference requests accepted and not yet answered. */
  maxPending: number;
  /** Bytes of their bodies. */
  maxPendingBytes: number;
}

/** Seconds a refused client is told to wait. */
const RETRY_AFTER_S = 1;

const releases = new WeakMap<FastifyRequest, () => void>();

/**
 * What one gateway holds for the inferers at once, over HTTP and gRPC together. Past the limits the
 * next inference request is refused with 503 `overloaded` (and `Retry-After`) instead of queued.
 */
export class Admission {
  readonly #limits: AdmissionLimits;
  #pending = 0;
  #bytes = 0;

  constructor(limits: AdmissionLimits) {
    this.#limits = limits;
  }

  /** The refusal a request of `size` bytes would get now; undefined when it fits. */
  refusal(size: number): FerryError | undefined {
    if (this.#pending < this.#limits.maxPending && (this.#pending === 0 || this.#bytes + size <= this.#limits.maxPendingBytes)) return undefined;
    return new FerryError("overloaded", `the inferers are behind (${this.#pending} requests, ${this.#bytes} bytes waiting); retry in ${RETRY_AFTER_S} s`);
  }

  /** Takes a slot for a request of `size` bytes: its release (idempotent), or the refusal. */
  take(size: number): (() => void) | FerryError {
    const e = this.refusal(size);
    if (e) return e;
    this.#pending++;
    this.#bytes += size;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#pending--;
      this.#bytes -= size;
    };
  }

  pending(): number {
    return this.#pending;
  }
}

/**
 * Sheds load instead of queueing it without bound: while the inferers are behind, requests pile up in
 * the gateway (bodies in memory, NATS messages waiting); past the limits the next inference request
 * gets 503 `overloaded` with `Retry-After`, before its body is read when the limits are already reached.
 *
 * A slot is taken only once the body has arrived: a client that sends headers and then trickles (or
 * withholds) its body holds no slot, so thousands of partial requests cannot lock the site out. They
 * hold a socket and what they sent until the server's request timeout closes them (see gateway.ts).
 */
export function admitInference(app: FastifyInstance, admission: Admission, isInference: (req: FastifyRequest) => boolean): { pending(): number } {
  // Callback hooks, not async ones: they run on every request.
  app.addHook("onRequest", (req, reply, done) => {
    if (!isInference(req)) return done();
    // Already over the limits: refuse before reading the body.
    const e = admission.refusal(Number(req.headers["content-length"] ?? 0) || 0);
    if (e) void reply.header("Retry-After", String(RETRY_AFTER_S));
    done(e);
  });
  app.addHook("preValidation", (req, reply, done) => {
    if (!isInference(req)) return done();
    const taken = admission.take(Buffer.isBuffer(req.body) ? req.body.length : 0);
    if (taken instanceof FerryError) {
      void reply.header("Retry-After", String(RETRY_AFTER_S));
      return done(taken);
    }
    releases.set(req, taken);
    done();
  });
  const release = (req: FastifyRequest, _reply: unknown, done: () => void): void => {
    releases.get(req)?.();
    done();
  };
  app.addHook("onResponse", release);
  app.addHook("onRequestAbort", (req, done) => {
    releases.get(req)?.();
    done();
  });
  return { pending: () => admission.pending() };
}
