import type { FastifyReply, FastifyRequest } from "fastify";
import { requestHeaders, type InferReply } from "@ferry/contracts";

/** The request body as the parser left it (a Buffer); empty when there was none. */
export function bodyOf(req: FastifyRequest): Uint8Array {
  return req.body instanceof Uint8Array ? req.body : new Uint8Array(0);
}

/** A header sent once, as a string; undefined when absent or repeated. */
export const oneHeader = (value: string | string[] | undefined): string | undefined => (typeof value === "string" ? value : undefined);

/** The request headers an inferer reads (content type, accept, split key, request id), framed by contracts. */
export function forwardedHeaders(req: FastifyRequest): Record<string, string> {
  return requestHeaders({
    contentType: req.headers["content-type"],
    accept: req.headers.accept,
    splitKey: oneHeader(req.headers["ferry-split-key"]),
    requestId: oneHeader(req.headers["ferry-request-id"]),
  });
}

/**
 * Answers with an upstream reply's status, type and bytes. A Buffer is sent as it is: no response
 * schema serializes it (one would drop what it does not name).
 */
export function sendForwarded(reply: FastifyReply, r: InferReply): FastifyReply {
  return reply.code(r.status).header("content-type", r.contentType).send(Buffer.from(r.body.buffer, r.body.byteOffset, r.body.byteLength));
}
