import type { FastifyInstance, FastifyServerOptions } from "fastify";

/** How long the HTTP server waits for a client. */
export interface ClientTimeouts {
  /** A request's headers and whole body must arrive within this, ms; then 408 `request_timeout` and the socket is closed. */
  bodyTimeoutMs: number;
  /** Its headers must arrive within this, ms (at most bodyTimeoutMs). */
  headersTimeoutMs: number;
  /** An idle keep-alive connection is closed after this, ms. */
  keepAliveTimeoutMs: number;
}

/**
 * Defaults. 60 s for a body: 16 MiB (the default body limit) then needs about 2.3 Mbit/s, slow Wi-Fi
 * still does; a client that trickles a body is cut off after it. 10 s for headers, which are small.
 * 5 s for idle keep-alive, Node's own default (Fastify's 72 s is for cloud load balancers; the site's
 * clients reconnect at no cost on a LAN, and each idle socket is a file descriptor).
 */
export const DEFAULT_CLIENT_TIMEOUTS: ClientTimeouts = { bodyTimeoutMs: 60_000, headersTimeoutMs: 10_000, keepAliveTimeoutMs: 5_000 };

/**
 * The Fastify (and Node http.Server) settings that enforce the timeouts. Node checks connections for
 * expired requests every `connectionsCheckingInterval` (30 s by default, which would let a request live
 * up to 30 s past its limit): here every quarter of the shorter limit, at most 1 s.
 */
export function timeoutSettings(t: ClientTimeouts): Pick<FastifyServerOptions, "requestTimeout" | "keepAliveTimeout"> & { http: object } {
  const headersTimeout = Math.min(t.headersTimeoutMs, t.bodyTimeoutMs);
  const connectionsCheckingInterval = Math.max(50, Math.min(1000, Math.floor(headersTimeout / 4)));
  return {
    requestTimeout: t.bodyTimeoutMs,
    keepAliveTimeout: t.keepAliveTimeoutMs,
    http: { headersTimeout, requestTimeout: t.bodyTimeoutMs, connectionsCheckingInterval },
  };
}

/**
 * Node stops checking request timeouts once the server closes, so a client still sending a body would
 * keep the gateway from stopping; after the body timeout its connection is closed anyway.
 */
export function closeSlowClientsOnStop(app: FastifyInstance, bodyTimeoutMs: number): void {
  app.addHook("preClose", (done) => {
    setTimeout(() => app.server.closeAllConnections(), bodyTimeoutMs).unref();
    done();
  });
}
