import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyServerOptions } from "fastify";
import { FerryError, MediaTypes, type ErrorCode } from "@ferry/contracts";

/** Fastify's own errors (body parsing, limits, validation) by the Ferry code they answer with. */
const fastifyCodes: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: "payload_too_large",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "unsupported_media_type",
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: "bad_request",
  FST_ERR_CTP_EMPTY_JSON_BODY: "bad_json",
  FST_ERR_VALIDATION: "bad_request",
};

/**
 * Sends `{error, code}` with the error's status. The body goes as JSON text: Fastify then skips the
 * route's response schema, which documents only the codes the route is expected to answer.
 */
export function sendError(reply: FastifyReply, e: FerryError): FastifyReply {
  // Worth a retry soon: the site's NATS server is being restarted or a part is starting.
  if (e.code === "unavailable" && !reply.hasHeader("Retry-After")) void reply.header("Retry-After", "1");
  return reply.code(e.status).type(MediaTypes.json).send(JSON.stringify(e.toBody()));
}

/** Any error as a FerryError: Fastify's by their code, other 4xx as `bad_request`, the rest `internal`. */
function asFerry(err: FastifyError): FerryError {
  if (err instanceof FerryError) return err;
  const code = fastifyCodes[err.code] ?? (err.statusCode && err.statusCode < 500 ? "bad_request" : "internal");
  return new FerryError(code, err.message);
}

/** Node's HTTP parser's errors by the Ferry code they answer with (any other is `bad_request`). */
const parserCodes: Record<string, ErrorCode> = {
  HPE_HEADER_OVERFLOW: "headers_too_large",
  ERR_HTTP_REQUEST_TIMEOUT: "request_timeout",
};

/**
 * Requests Node's HTTP parser refuses (a bad header, bad chunked encoding, a broken request line) never
 * reach Fastify's error handler: this answers them with Ferry's `{error, code}`, not Fastify's own body.
 */
export function clientErrorReply(err: Error & { code?: string }, socket: Socket): void {
  // A reset connection is gone: nothing to answer.
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  const code = parserCodes[err.code ?? ""] ?? "bad_request";
  const e = new FerryError(code, code === "bad_request" ? `malformed HTTP request: ${err.message}`
    : code === "request_timeout" ? "the request did not arrive in time (headers and body are bounded by --body-timeout)" : "the request headers are too large (16 KiB at most)");
  const body = JSON.stringify(e.toBody());
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${e.status} ${STATUS_CODES[e.status]}\r\nContent-Type: ${MediaTypes.json}\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(err);
}

/** Errors Fastify meets before routing (a malformed URL, a too long parameter): it answers them itself unless told otherwise. */
export const frameworkErrors: NonNullable<FastifyServerOptions["frameworkErrors"]> = (err, _req, reply) => {
  const e = err.code === "FST_ERR_MAX_PARAM_LENGTH"
    ? new FerryError("unknown_pipeline", "unknown pipeline: names are at most 128 characters")
    : new FerryError("bad_request", "bad URL: a malformed %-escape");
  void sendError(reply as FastifyReply, e);
};

/**
 * The one error handler: every failure, Ferry's or Fastify's, answers `{error, code}`; an unknown route
 * 404 `not_found`, a known path with another method 405 `method_not_allowed` with `Allow`.
 */
export function errorReplies(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, _req, reply) => {
    const e = asFerry(err);
    if (e.status >= 500 && e.code === "internal") app.log.error({ err }, "request failed");
    return sendError(reply, e);
  });
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split("?")[0]!;
    // A route of this very method that found nothing (a missing static file) is a 404, not a 405.
    const allowed = allowedMethods(app, path);
    if (allowed.length === 0 || allowed.includes(req.method)) return sendError(reply, new FerryError("not_found", `no route ${req.method} ${path}`));
    void reply.header("Allow", allowed.join(", "));
    return sendError(reply, new FerryError("method_not_allowed", `${req.method} is not allowed on ${path}; use ${allowed.join(" or ")}`));
  });
}

const METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"] as const;

/** The methods that have a route for `path` (a wrong method on a known path is 405, not 404). */
function allowedMethods(app: FastifyInstance, path: string): string[] {
  return METHODS.filter((method) => app.findRoute({ method, url: path }) !== null);
}
