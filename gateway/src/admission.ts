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
  app.addHook("onRequest", async (req, reply) => {
    if (!isInference(req)) return;
    const size = Number(req.headers["content-length"] ?? 0) || 0;
    if (pending >= limits.maxPending || (pending > 0 && bytes + size > limits.maxPendingBytes)) {
      void reply.header("Retry-After", String(RETRY_AFTER_S));
      throw new FerryError("overloaded", `the inferers are behind (${pending} requests, ${bytes} bytes waiting); retry in ${RETRY_AFTER_S} s`);
    }
    pending++;
    bytes += size;
    let done = false;
    releases.set(req, () => {
      if (done) return;
      done = true;
      pending--;
      bytes -= size;
    });
  });
  const release = async (req: FastifyRequest): Promise<void> => releases.get(req)?.();
  app.addHook("onResponse", release);
  app.addHook("onRequestAbort", release);
  return { pending: () => pending };
}
