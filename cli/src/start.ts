import { join } from "node:path";
import { startNatsServer, type NatsServer } from "@ferry/natsd";
import { start as startGateway } from "@ferry/gateway";
import { start as startInferer, startPool } from "@ferry/inferer";
import { start as startLogger } from "@ferry/logger";
import { currentPipeline, openStores, publishManifestFile, setCurrentPipeline, start as startDeployer } from "@ferry/deployer";
import { start as startLink } from "@ferry/link";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { ensureDurableStreams, natsConnectOptions, type DurableStorage, type NatsRole, type Service } from "@ferry/contracts";
import { pino, type Logger } from "pino";
import type { StartOptions } from "./options.js";
import { startHub } from "./hub.js";
import { untilReady } from "./start-wait.js";
import { edgeServerOptions, joinInBackground, prepareEdge, type EdgeSetup } from "./edge.js";
import { natsAuthRequired, roleUrl, routeAuth, secretPasswords, sitePasswords, siteUsers, type SitePasswords } from "./site-users.js";

/** What `ferry start` runs; `stop()` stops the services, then the spawned nats-server. */
export interface Site {
  /** The NATS server's URL (without credentials). */
  readonly natsUrl: string;
  /** Role passwords, when the server requires credentials (`--nats-auth`, `FERRY_NATS_SECRET`). */
  readonly passwords: SitePasswords | undefined;
  readonly url: string | undefined;
  readonly services: Service[];
  stop(): Promise<void>;
}

/** Largest NATS message for a body limit: replies can be larger than requests (JSON out for Arrow in). */
export function maxPayloadFor(bodyLimit: number): number {
  return Math.min(64 * 1024 * 1024, Math.max(8 * 1024 * 1024, 4 * bodyLimit));
}

async function deployAtStart(natsUrl: string, o: StartOptions, log: Logger): Promise<void> {
  const nc = await connect({ ...natsConnectOptions(natsUrl), name: "ferry-start" });
  try {
    const stores = await openStores(nc, o.replicas);
    let first: string | undefined;
    for (const path of o.manifests) {
      try {
        const r = await publishManifestFile(stores, path, { onlyIfChanged: true });
        first ??= r.manifest.pipeline;
        log.info({ pipeline: r.manifest.pipeline, version: r.manifest.pipeline_version, published: r.changed }, r.changed ? "pipeline published" : "pipeline already deployed");
      } catch (err) {
        log.error({ manifest: path, err: (err as Error).message }, "cannot publish this manifest");
      }
    }
    const current = o.current ?? ((await currentPipeline(stores)) ? undefined : first);
    if (current) await setCurrentPipeline(stores, current);
  } finally {
    await nc.drain();
  }
}

function durableStorage(o: StartOptions): DurableStorage {
  return { requestMaxBytes: o.submitStorageBytes, resultMaxBytes: o.resultStorageBytes, resultMaxAgeMs: o.resultMaxAgeMs, replicas: o.replicas };
}

/** Creates the durable inference streams, so devices can submit before any inferer runs. */
async function prepareStreams(natsUrl: string, o: StartOptions): Promise<void> {
  const nc = await connect({ ...natsConnectOptions(natsUrl), name: "ferry-start" });
  try {
    await ensureDurableStreams(await jetstreamManager(nc), durableStorage(o));
  } finally {
    await nc.drain();
  }
}

function startEdgeLink(natsUrl: string, edge: EdgeSetup, o: StartOptions, log: Logger): Promise<Service> {
  return startLink({ natsUrl, edge: edge.name, pipeline: edge.pipeline, hubDomain: edge.hubDomain, replicas: o.replicas, logger: log.child({ service: "link" }) });
}

/** Starts the asked services, spawning a local nats-server first when no NATS URL is given. */
export async function startSite(o: StartOptions, log: Logger = pino({ level: o.logLevel })): Promise<Site> {
  if (o.services.includes("ops")) return startHub(o, log);
  const edge = o.bundle ? await prepareEdge(o.bundle, o.data, log) : undefined;
  if (edge && o.natsUrl) log.warn({ edge: edge.name }, `NATS_URL is given: that server must have JetStream domain ${edge.name} and the leaf link to the hub (credentials in ${join(o.data, "edge")})`);
  let nats: NatsServer | undefined;
  const usersFile = join(o.data, "nats", "users.json");
  const passwords = o.natsSecret ? secretPasswords(o.natsSecret)
    : !o.natsUrl && natsAuthRequired(o.natsAuth, o.natsHost) ? await sitePasswords(usersFile) : undefined;
  const cluster = o.clusterPort > 0
    ? { cluster: { name: "ferry", port: o.clusterPort, routes: o.routes, ...(o.natsSecret ? { auth: routeAuth(o.natsSecret) } : {}) } }
    : {};
  const spawnNats = async (port: number): Promise<NatsServer> => {
    const server = await startNatsServer({
      dataDir: join(o.data, "nats"),
      port,
      host: o.natsHost,
      serverName: o.natsName,
      maxPayload: maxPayloadFor(o.bodyLimit),
      log: (line) => log.debug({ nats: line }),
      ...(passwords ? { users: siteUsers(passwords) } : {}),
      ...cluster,
      ...(edge ? edgeServerOptions(edge) : {}),
    });
    const auth = !passwords ? { credentials: "none (loopback only)" }
      : { credentials: o.natsSecret ? "derived from FERRY_NATS_SECRET (ferry nats-password ROLE)" : usersFile, deviceUser: "device" };
    log.info({ url: server.url, version: server.version, ...auth, ...(o.clusterPort ? { cluster: "ferry", routes: o.routes } : {}), ...(edge ? { edge: edge.name, linked: edge.credentials !== undefined } : {}) }, "nats-server started");
    return server;
  };
  if (!o.natsUrl) nats = await spawnNats(o.natsPort);
  // One server of a cluster: its JetStream answers once enough servers are up, so nothing else runs here.
  if (o.services.length === 1 && o.services[0] === "nats") {
    return { natsUrl: nats!.url, passwords, url: undefined, services: [], stop: () => nats!.stop() };
  }
  const serverUrl = o.natsUrl ?? nats!.url;
  const as = (role: NatsRole): string => roleUrl(serverUrl, role, passwords);
  const services: Service[] = [];
  let url: string | undefined;
  let relinking: Promise<void> | undefined;
  const rejoin = edge && !edge.credentials ? joinInBackground(edge, o.data, log, () => (relinking = (async () => {
    // Leaf remotes cannot be reloaded: restart the server on the same port; services reconnect on their own.
    if (!nats) return;
    const port = nats.port;
    await nats.stop();
    nats = await spawnNats(port);
  })()), o.joinRetryMs) : undefined;
  const stop = async (): Promise<void> => {
    rejoin?.stop();
    await relinking?.catch(() => undefined);
    for (const s of [...services].reverse()) await s.stop().catch((err: unknown) => log.error({ err }, `stopping ${s.name}`));
    await nats?.stop();
  };
  try {
    // The site's pipelines are deployments (KV + object store) that inferers watch; the manifests given
    // here are published unless the same models are deployed already.
    await untilReady("NATS and JetStream", () => prepareStreams(as("admin"), o), log, o.startWaitMs);
    if (o.services.includes("inferer") || o.services.includes("deployer")) await deployAtStart(as("admin"), o, log);
    if (o.services.includes("logger")) services.push(await startLogger({
      natsUrl: as("logger"), storage: { maxBytes: o.logStorageBytes, maxAgeMs: o.logMaxAgeMs, replicas: o.replicas }, logger: log.child({ service: "logger" }),
    }));
    if (o.services.includes("deployer")) services.push(await startDeployer({ natsUrl: as("deployer"), replicas: o.replicas, logger: log.child({ service: "deployer" }) }));
    if (o.services.includes("inferer")) {
      const inferer = {
        natsUrl: as("inferer"), manifests: [], watch: true, cacheDir: join(o.data, "cache"), intraOpThreads: o.threads,
        partition: edge?.name ?? o.partition, logDropBytes: o.logDropBytes, logRecords: o.logRecords,
        batching: o.batchWindowMs === undefined ? false as const : { windowMs: o.batchWindowMs, maxBatch: o.batchMax },
        durable: { maxDeliveries: o.maxDeliveries, storage: durableStorage(o) },
      };
      services.push(o.workers > 1
        ? await startPool({ workers: o.workers, inferer, logLevel: o.logLevel })
        : await startInferer({ ...inferer, logger: log.child({ service: "inferer" }) }));
    }
    if (edge && o.services.includes("link")) services.push(await startEdgeLink(as("link"), edge, o, log));
    if (o.services.includes("gateway")) {
      const gw = await startGateway({
        natsUrl: as("gateway"), port: o.port, host: o.host, bodyLimit: o.bodyLimit, timeoutMs: o.timeoutMs,
        maxInFlight: o.maxInFlight, maxPending: o.maxPending,
        logger: log.child({ service: "gateway" }),
      });
      url = gw.url;
      services.push(gw);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { natsUrl: serverUrl, passwords, url, services, stop };
}
