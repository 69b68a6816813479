import Fastify, { type FastifyError, type FastifyInstance } from "fastify";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { FerryError, MediaTypes } from "@ferry/contracts";
import { createDeploymentStores, serviceOf, type Service } from "@ferry/runtime";
import { pino, type Logger } from "pino";
import type { AddressInfo } from "node:net";
import { EdgeLifecycle, type LifecycleSettings } from "./edge-lifecycle.js";
import { EdgeRegistry } from "./edge-registry.js";
import { answerHeartbeats } from "./heartbeats.js";
import { HubServer, type HubLogin } from "./hub-server.js";
import type { HubLogStorage } from "./log-sources.js";
import { opsRoutes } from "./routes.js";

/** How to start the Ops hub. */
export interface OpsOptions {
  /** Folder of the hub's nats-server store, config and secrets. */
  dataDir: string;
  /** HTTP port of the Ops API (0: a free one). Default 8090. */
  port?: number;
  /** HTTP listen address. Default 0.0.0.0. */
  host?: string;
  /** Client port of the hub's nats-server. Default 4222. */
  natsPort?: number;
  natsHost?: string;
  /** Leaf node port edges link to. Default 7422. */
  leafPort?: number;
  /** `host:port` edges reach the Ops API at (OPSCENTER_HOST in bundles). Default 127.0.0.1:<port>. */
  publicHost?: string;
  /** What edges dial for the leaf link. Default `nats-leaf://<publicHost's host>:<leafPort>`. */
  leafUrl?: string;
  /** A join token works this long after its bundle is made, ms. Default 24 h. */
  tokenTtlMs?: number;
  /** Credentials lapse after this long without contact, ms. Default 7 days. */
  contactTtlMs?: number;
  /** How often lapsed edges are looked for, ms. Default a minute (or the contact period / 4 if shorter). */
  sweepMs?: number;
  workspaceId?: string;
  /** Bounds of FERRY_LOGS_ALL. Default 10 GiB, no age limit, 1 replica. */
  logStorage?: Partial<HubLogStorage>;
  /** Largest request body (model uploads), bytes. Default 256 MiB. */
  bodyLimit?: number;
  logger?: Logger;
}

/** A running Ops hub. */
export interface Ops extends Service {
  /** The Ops API, `http://host:port`. */
  readonly url: string;
  /** The hub's nats-server, for the hub's own services (log in with `login`). */
  readonly natsUrl: string;
  readonly login: HubLogin;
  readonly leafPort: number;
  /** Lapses the edges past their contact period now (the hub also does so on a timer). */
  sweep(): Promise<string[]>;
}

/** Starts the Ops hub: its nats-server (domain `hub`, leaf listener), the edge registry and the Ops API. */
export async function start(o: OpsOptions): Promise<Ops> {
  const log = o.logger ?? pino({ name: "ops" });
  const hub = await HubServer.start({ dataDir: o.dataDir, port: o.natsPort, host: o.natsHost, leafPort: o.leafPort, log: (line) => log.debug({ nats: line }) });
  let nc: NatsConnection | undefined;
  let app: FastifyInstance | undefined;
  try {
    nc = await connect({ servers: hub.url, user: hub.login.user, pass: hub.login.pass, name: "ferry-ops", maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    const jsm = await jetStreamReady(nc);
    const registry = await EdgeRegistry.open(nc);
    // The hub keeps publishes in the same stores a site has; edges read them through domain `hub`.
    const { deployments, models } = await createDeploymentStores(nc);
    app = Fastify({ bodyLimit: o.bodyLimit ?? 256 * 1024 * 1024, loggerInstance: log.child({ service: "ops-http" }) }) as unknown as FastifyInstance;
    handleErrors(app);
    // Filled in once the API listens: a bundle names the port it got.
    const settings: LifecycleSettings = {
      publicHost: "", leafUrl: "",
      tokenTtlMs: o.tokenTtlMs ?? 24 * 3_600_000,
      contactTtlMs: o.contactTtlMs ?? 7 * 24 * 3_600_000,
      workspaceId: o.workspaceId ?? "1",
      logStorage: { maxBytes: 10 * 1024 ** 3, maxAgeMs: 0, replicas: 1, ...o.logStorage },
    };
    const lifecycle = new EdgeLifecycle(registry, hub, jsm, deployments, settings, log);
    await lifecycle.reconcile();
    const heartbeats = answerHeartbeats(nc, registry, log);
    opsRoutes(app, { nc, registry, lifecycle, models, timeoutMs: 30_000 });
    await app.listen({ port: o.port ?? 8090, host: o.host ?? "0.0.0.0" });
    const port = (app.server.address() as AddressInfo).port;
    const address = { url: `http://127.0.0.1:${port}` };
    const publicHost = o.publicHost ?? `127.0.0.1:${port}`;
    settings.publicHost = publicHost;
    settings.leafUrl = o.leafUrl ?? `nats-leaf://${publicHost.replace(/:\d+$/, "")}:${hub.leafPort}`;
    const sweepMs = o.sweepMs ?? Math.min(60_000, Math.max(50, (o.contactTtlMs ?? Infinity) / 4));
    const sweeper = setInterval(() => void lifecycle.sweep().catch((err: unknown) => log.error({ err }, "lapse sweep failed")), sweepMs);
    sweeper.unref();
    log.info({ url: address.url, nats: hub.url, leafPort: hub.leafPort, publicHost }, "ops hub ready");
    const conn = nc;
    const http = app;
    return serviceOf("ops", async () => {
      clearInterval(sweeper);
      await http.close();
      await heartbeats.drain();
      await conn.drain();
      await hub.stop();
    }, { url: address.url, natsUrl: hub.url, login: hub.login, leafPort: hub.leafPort, sweep: () => lifecycle.sweep() });
  } catch (err) {
    await app?.close();
    await nc?.close();
    await hub.stop();
    throw err;
  }
}

/** The hub's JetStream, once it answers: a restarted server takes clients before it has recovered its streams. */
async function jetStreamReady(nc: NatsConnection): Promise<JetStreamManager> {
  for (let attempt = 1; ; attempt++) {
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.getAccountInfo();
      return jsm;
    } catch (err) {
      if (attempt >= 100) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Bodies stay bytes (routes parse what they take); every error is a JSON `{error, code}`. */
function handleErrors(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_req, body, done) => done(null, body));
  app.setErrorHandler((err: FastifyError, _req, reply) => {
    const e = err instanceof FerryError ? err
      : hubUnreachable(err) ? new FerryError("unavailable", `the hub's NATS server is not reachable right now (restarting?): ${err.message}`)
        : new FerryError(err.code === "FST_ERR_CTP_BODY_TOO_LARGE" ? "payload_too_large" : err.statusCode && err.statusCode < 500 ? "bad_request" : "internal", err.message);
    if (e.code === "unavailable") void reply.header("Retry-After", "1");
    void reply.code(e.status).type(MediaTypes.json).send(e.toBody());
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).type(MediaTypes.json).send({ error: `no route ${req.method} ${req.url.split("?")[0]}`, code: "not_found" });
  });
}

/**
 * nats.js errors of a hub server that is away for a moment (a revocation restarts it): the request timed
 * out, found no responder, or the connection is closed or reconnecting. Worth a retry, not a 500.
 */
function hubUnreachable(err: Error): boolean {
  return ["TimeoutError", "NoRespondersError", "ConnectionError", "ClosedConnectionError", "DrainingConnectionError", "RequestError"].includes(err.name)
    || /no responders|timeout|connection (closed|draining)|disconnect/i.test(err.message);
}
