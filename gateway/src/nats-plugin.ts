import type { NatsConnection } from "@nats-io/transport-node";
import { watchConnection, type ConnectionWatch } from "@ferry/runtime";
import { Coalescer, type CoalescerOptions } from "./coalescer.js";
import { SiteStores } from "./site-stores.js";
import { StatusView } from "./status-view.js";
import fp from "fastify-plugin";

/** The NATS side of the gateway, as the routes use it. */
export interface GatewayNats {
  readonly nc: NatsConnection;
  /** Whether the connection is up now (nats.js has no such query). */
  readonly connection: ConnectionWatch;
  /** Inference requests, coalesced per subject. */
  readonly coalescer: Coalescer;
  /** The inferers' status reports, kept and refreshed (inferer counts for the coalescer, V2 models). */
  readonly status: StatusView;
  /** The site's KV buckets, bound once. */
  readonly stores: SiteStores;
  /** Reply timeout of a NATS request, ms. */
  readonly timeoutMs: number;
}

declare module "fastify" {
  interface FastifyInstance {
    nats: GatewayNats;
  }
}

/** Options of {@link natsPlugin}. */
export interface NatsPluginOptions extends CoalescerOptions {
  nc: NatsConnection;
  /** Drain the connection when the app closes: set when the gateway was handed the connection for good. */
  ownsConnection: boolean;
}

/** Decorates the app with `nats` ({@link GatewayNats}); drains the connection on close when it owns it. */
// fastify-plugin: not encapsulated, so the route plugins registered beside it see `app.nats`.
export const natsPlugin = fp<NatsPluginOptions>(async (app, options) => {
  const { nc, ownsConnection, ...coalescing } = options;
  const status = new StatusView(nc).start();
  const coalescer = new Coalescer(nc, { ...coalescing, inferers: (subject) => status.inferers(subject) });
  const nats: GatewayNats = {
    nc,
    connection: watchConnection(nc, (e) => (e === "reconnect" ? coalescer.connectionBack() : coalescer.connectionLost())),
    coalescer,
    status,
    stores: new SiteStores(nc),
    timeoutMs: coalescing.timeoutMs,
  };
  app.decorate("nats", nats);
  app.addHook("onClose", async () => { status.stop(); });
  // A drain waits for a server that is away: close at once then (nothing of the gateway's is unsent).
  if (ownsConnection) app.addHook("onClose", async () => { await (nats.connection.connected ? nc.drain() : nc.close()); });
}, { name: "ferry-nats", fastify: "5.x" });
