import type { FastifyInstance } from "fastify";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { hubAssets, openDeploymentStores, provision, serviceOf, storageSettings, type Service, type StorageSettings } from "@ferry/runtime";
import { pino, type Logger } from "pino";
import type { AddressInfo } from "node:net";
import { EdgeLifecycle, type LifecycleSettings } from "./edge-lifecycle.js";
import { EdgeRegistry } from "./edge-registry.js";
import { answerHeartbeats } from "./heartbeats.js";
import { HubServer, type HubLogin } from "./hub-server.js";
import { buildOpsApp } from "./app.js";
import { SourceResumer } from "./log-sources.js";
import { ApiTokens } from "./api-tokens.js";
import { OidcVerifier, type OidcOptions } from "./oidc.js";
import { hubTls, type HubTls } from "./hub-tls.js";
import type { TlsFiles } from "@ferry/natsd";

/** How to start the Ops hub. */
export interface OpsOptions {
  /** Folder of the hub's nats-server store, config and secrets. */
  dataDir: string;
  /**
   * The operator's certificate, key and CA (PEM files) for the Ops API and the hub's nats-server.
   * Default: the hub's own CA and certificate in `<dataDir>/tls`, made on first start.
   */
  tls?: TlsFiles;
  /** HTTPS port of the Ops API (0: a free one). Default 8090. */
  port?: number;
  /** HTTP listen address. Default 0.0.0.0. */
  host?: string;
  /** Client port of the hub's nats-server. Default 4222. */
  natsPort?: number;
  natsHost?: string;
  /** The hub's nats-server `sync_interval` ("always" or a duration such as "2m"). Default "always". */
  natsSync?: string;
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
  /** Bounds of the hub's streams and buckets (FERRY_LOGS_ALL: `logMaxBytes`, `logMaxAgeMs`) and their replicas. Default: the topology's. */
  storage?: Partial<StorageSettings>;
  /** Largest request body (model uploads), bytes. Default 256 MiB. */
  bodyLimit?: number;
  /**
   * An admin token for the Ops API that the operator chose (FERRY_OPS_ADMIN_TOKEN): its hash is stored
   * at start, and no token is made and printed. Without it, the first start makes one (`adminTokenMade`).
   */
  adminToken?: string;
  /** Also take JWT bearer tokens from this OpenID Connect provider. */
  oidc?: OidcOptions;
  logger?: Logger;
}

/** A running Ops hub. */
export interface Ops extends Service {
  /** The Ops API, `https://host:port`. */
  readonly url: string;
  /** The hub's nats-server, for the hub's own services (log in with `login`, TLS with `natsTls`). */
  readonly natsUrl: string;
  readonly login: HubLogin;
  /** nats.js `tls` options for the hub's client port: its CA, TLS before anything else. */
  readonly natsTls: { ca: string; handshakeFirst: true };
  /** The hub's CA certificate (PEM): what the Ops API's and the leaf port's certificates chain to. */
  readonly ca: string;
  /** SHA-256 of the CA certificate, hex (OPSCENTER_CA_SHA256 in bundles). */
  readonly caFingerprint: string;
  readonly leafPort: number;
  /** Lapses the edges past their contact period now (the hub also does so on a timer). */
  sweep(): Promise<string[]>;
  /** The admin token made at this start, the hub's first (no token stored, no `adminToken`): to be shown once. */
  readonly adminTokenMade: string | undefined;
}

/** Starts the Ops hub: its nats-server (domain `hub`, leaf listener), its storage, the edge registry and the Ops API. */
export async function start(o: OpsOptions): Promise<Ops> {
  const log = o.logger ?? pino({ name: "ops" });
  const tls = await hubTls(o.dataDir, o.tls, o.publicHost);
  const hub = await HubServer.start({ dataDir: o.dataDir, port: o.natsPort, host: o.natsHost, leafPort: o.leafPort, syncInterval: o.natsSync, tls: tls.files, log: (line) => log.debug({ nats: line }) });
  const parts: { nc?: NatsConnection; app?: FastifyInstance } = {};
  const natsTls = { ca: tls.ca, handshakeFirst: true } as const;
  try {
    const nc = (parts.nc = await connect({ servers: hub.url, user: hub.login.user, pass: hub.login.pass, tls: natsTls, name: "ferry-ops", maxReconnectAttempts: -1, reconnectTimeWait: 250 }));
    const jsm = await jetStreamReady(nc);
    const storage = storageSettings(o.storage);
    // Ops owns the hub's server, so it provisions the hub's assets as its admin.
    await provision(nc, hubAssets(storage));
    const registry = await EdgeRegistry.open(nc);
    // The hub keeps publishes in the same stores a site has; edges read them through domain `hub`.
    const { deployments, models } = await openDeploymentStores(nc);
    const settings = lifecycleSettings(o, storage, tls.fingerprint);
    const lifecycle = new EdgeLifecycle(registry, hub, jsm, deployments, settings, log);
    await lifecycle.reconcile();
    const sources = new SourceResumer(jsm, storage, async () => (await registry.list()).filter((r) => r.state === "joined").map((r) => r.name), log);
    const heartbeats = answerHeartbeats(nc, registry, log, (edge) => sources.contact(edge));
    const tokens = await ApiTokens.open(nc);
    const adminTokenMade = await firstAdminToken(tokens, o.adminToken, log);
    const oidc = o.oidc ? await OidcVerifier.create(o.oidc) : undefined;
    const deps = { nc, registry, lifecycle, models, timeoutMs: 30_000, tokens, oidc };
    const app = (parts.app = buildOpsApp(deps, { bodyLimit: o.bodyLimit ?? 256 * 1024 * 1024, logger: log.child({ service: "ops-http" }), https: httpsOf(tls) }));
    const url = await listen(app, o, hub, settings);
    const sweeper = startSweeper(lifecycle, o, log);
    log.info({ url, nats: hub.url, leafPort: hub.leafPort, publicHost: settings.publicHost, caSha256: tls.fingerprint, ca: tls.files.caFile }, "ops hub ready");
    return serviceOf("ops", async () => {
      clearInterval(sweeper);
      await app.close();
      await heartbeats.drain();
      await nc.drain();
      await hub.stop();
    }, { url, natsUrl: hub.url, login: hub.login, natsTls, ca: tls.ca, caFingerprint: tls.fingerprint, leafPort: hub.leafPort, sweep: () => lifecycle.sweep(), adminTokenMade });
  } catch (err) {
    await parts.app?.close();
    await parts.nc?.close();
    await hub.stop();
    throw err;
  }
}

/**
 * The way in to a new hub: the operator's FERRY_OPS_ADMIN_TOKEN (stored by hash; it never expires, as
 * the operator hands it in at every start and rotates it there), else, when no token is stored at all
 * (the first start), a fresh admin token with the default lifetime, for the caller to show once.
 */
async function firstAdminToken(tokens: ApiTokens, given: string | undefined, log: Logger): Promise<string | undefined> {
  if (given !== undefined) {
    await tokens.adopt(given, "admin", "FERRY_OPS_ADMIN_TOKEN");
    return undefined;
  }
  if (!(await tokens.empty())) return undefined;
  const { token, view } = await tokens.create("admin", "first admin", undefined);
  // The token goes to the caller (stdout of `ferry start ops`), never to the log.
  log.info({ apiToken: { id: view.id, role: view.role, expires_at: view.expires_at } }, "first start: made an admin token for the Ops API");
  return token;
}

/** Lifecycle settings; `publicHost` and `leafUrl` are filled in by `listen` (a bundle names the port the API got). */
function lifecycleSettings(o: OpsOptions, storage: StorageSettings, caFingerprint: string): LifecycleSettings {
  return {
    publicHost: "", leafUrl: "", caFingerprint,
    tokenTtlMs: o.tokenTtlMs ?? 24 * 3_600_000,
    contactTtlMs: o.contactTtlMs ?? 7 * 24 * 3_600_000,
    workspaceId: o.workspaceId ?? "1",
    logStorage: storage,
  };
}

/** Listens, then says in `settings` where edges reach the API and the leaf port; resolves to the API's URL. */
async function listen(app: FastifyInstance, o: OpsOptions, hub: HubServer, settings: LifecycleSettings): Promise<string> {
  await app.listen({ port: o.port ?? 8090, host: o.host ?? "0.0.0.0" });
  const port = (app.server.address() as AddressInfo).port;
  settings.publicHost = o.publicHost ?? `127.0.0.1:${port}`;
  settings.leafUrl = o.leafUrl ?? `nats-leaf://${settings.publicHost.replace(/:\d+$/, "")}:${hub.leafPort}`;
  return `https://127.0.0.1:${port}`;
}

/** The Ops API's HTTPS settings: TLS 1.2 or newer only. */
function httpsOf(tls: HubTls): { key: string; cert: string; minVersion: "TLSv1.2" } {
  return { key: tls.key, cert: tls.chain, minVersion: "TLSv1.2" };
}

/** Lapses edges past their contact period on a timer. */
function startSweeper(lifecycle: EdgeLifecycle, o: OpsOptions, log: Logger): NodeJS.Timeout {
  const sweepMs = o.sweepMs ?? Math.min(60_000, Math.max(50, (o.contactTtlMs ?? Infinity) / 4));
  const sweeper = setInterval(() => void lifecycle.sweep().catch((err: unknown) => log.error({ err }, "lapse sweep failed")), sweepMs);
  sweeper.unref();
  return sweeper;
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
