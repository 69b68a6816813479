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
 * Sheds load instead of queueing it without bound: while the inferers are behind, requests pile up in
 * the gateway (bodies in memory, NATS messages waiting); past the limits the next inference request
 * gets 503 `overloaded` with `Retry-After` before its body is read, so memory stays bounded.
 */
export function admitInference(app: FastifyInstance, limits: AdmissionLimits, isInference: (req: FastifyRequest) => boolean): { pending(): number } {
  let pending = 0;
  let bytes = 0;
  // Callback hooks, not async ones: they run on every request.
  app.addHook("onRequest", (req, reply, done) => {
    if (!isInference(req)) return done();
    const size = Number(req.headers["content-length"] ?? 0) || 0;
    if (pending >= limits.maxPending || (pending > 0 && bytes + size > limits.maxPendingBytes)) {
      void reply.header("Retry-After", String(RETRY_AFTER_S));
      return done(new FerryError("overloaded", `the inferers are behind (${pending} requests, ${bytes} bytes waiting); retry in ${RETRY_AFTER_S} s`));
    }
    pending++;
    bytes += size;
    let released = false;
    releases.set(req, () => {
      if (released) return;
      released = true;
      pending--;
      bytes -= size;
    });
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
  return { pending: () => pending };
}
