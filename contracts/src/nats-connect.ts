import { connect, type NatsConnection } from "@nats-io/transport-node";

/** The default NATS URL: the site's local server. */
export const DefaultNatsUrl = "nats://127.0.0.1:4222";

/** Server URLs from a `NATS_URL`-style value: one URL or a comma-separated list (nats.js takes only an array). */
export function natsServers(url: string = DefaultNatsUrl): string[] {
  return url.split(",").map((s) => s.trim()).filter(Boolean);
}

/**
 * A Ferry service's NATS connection: every server of the list (so it fails over in a cluster),
 * reconnecting for ever, without the async stack traces nats.js would build for every request.
 */
export function connectService(name: string, natsUrl?: string): Promise<NatsConnection> {
  return connect({ servers: natsServers(natsUrl), name, maxReconnectAttempts: -1, noAsyncTraces: true });
}
