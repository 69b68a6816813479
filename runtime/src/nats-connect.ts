import { connect, type ConnectionOptions, type NatsConnection } from "@nats-io/transport-node";
import { reserveLargeMessages } from "./nats-large-messages.js";

/** The default NATS URL: the site's local server. */
export const DefaultNatsUrl = "nats://127.0.0.1:4222";

function parts(url: string): string[] {
  return url.split(",").map((s) => s.trim()).filter(Boolean);
}

function withoutUserInfo(server: string): string {
  const m = /^([a-z]+:\/\/)?[^@/]*@(.*)$/i.exec(server);
  return m ? `${m[1] ?? ""}${m[2]}` : server;
}

/**
 * Server URLs from a `NATS_URL`-style value: one URL or a comma-separated list (nats.js takes only an
 * array), without credentials (see {@link natsCredentials}).
 */
export function natsServers(url: string = DefaultNatsUrl): string[] {
  return parts(url).map(withoutUserInfo);
}

/**
 * The user and password of a `nats://user:password@host:port` URL (the first server that has them),
 * percent-decoded. nats.js ignores credentials in URLs; Ferry reads them, as the Go client and the
 * `nats` CLI do.
 */
export function natsCredentials(url: string = DefaultNatsUrl): { user: string; pass: string } | undefined {
  for (const server of parts(url)) {
    const m = /^(?:[a-z]+:\/\/)?([^@/:]*)(?::([^@/]*))?@/i.exec(server);
    if (m) return { user: decodeURIComponent(m[1]!), pass: decodeURIComponent(m[2] ?? "") };
  }
  return undefined;
}

/** `url` with `user:password@` put before each server's host (credentials percent-encoded). */
export function natsUrlWithCredentials(url: string, user: string, pass: string): string {
  const info = `${encodeURIComponent(user)}:${encodeURIComponent(pass)}@`;
  return natsServers(url).map((s) => {
    const m = /^([a-z]+:\/\/)(.*)$/i.exec(s);
    return m ? `${m[1]}${info}${m[2]}` : `${info}${s}`;
  }).join(",");
}

/**
 * The CA (PEM file) a site's NATS server's certificate is checked against: `FERRY_NATS_CA`. `ferry start`
 * sets it for its own services when it spawns a server with TLS; devices and other services may set it.
 */
export function natsCaFile(): string | undefined {
  return process.env.FERRY_NATS_CA || undefined;
}

/**
 * nats.js connection options for a `NATS_URL`-style value: its servers and, when it has them, its
 * credentials; TLS checked against `FERRY_NATS_CA` when that is set.
 */
export function natsConnectOptions(url?: string): Pick<ConnectionOptions, "servers" | "user" | "pass" | "tls"> {
  const caFile = natsCaFile();
  return { servers: natsServers(url), ...natsCredentials(url), ...(caFile ? { tls: { caFile } } : {}) };
}

/**
 * A Ferry service's NATS connection: every server of the list (so it fails over in a cluster),
 * reconnecting for ever, without the async stack traces nats.js would build for every request, and
 * assembling large messages in one buffer (see {@link reserveLargeMessages}).
 */
export function connectService(name: string, natsUrl?: string): Promise<NatsConnection> {
  reserveLargeMessages();
  // Pings every 5 s (nats.js: 2 min): a server that hangs without closing the socket is noticed within
  // about 15 s, so health turns 503 and requests fail fast instead of each waiting out its timeout.
  return connect({ ...natsConnectOptions(natsUrl), name, maxReconnectAttempts: -1, reconnectTimeWait: RECONNECT_WAIT_MS, noAsyncTraces: true, pingInterval: SERVICE_PING_MS, maxPingOut: 2 });
}

/** How often a service pings its NATS server, ms. */
const SERVICE_PING_MS = 5000;
/** Pause between reconnect attempts, ms (nats.js: 2 s): a restarted site server is back in well under a second. */
const RECONNECT_WAIT_MS = 250;
