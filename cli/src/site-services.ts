import { join } from "node:path";
import { start as startGateway } from "@ferry/gateway";
import { start as startInferer, startPool } from "@ferry/inferer";
import { start as startLogger } from "@ferry/logger";
import { currentPipeline, openStores, publishManifestFile, setCurrentPipeline, start as startDeployer } from "@ferry/deployer";
import { start as startLink } from "@ferry/link";
import { connect } from "@nats-io/transport-node";
import { MIN_NATS_SERVER, isCurrentEnough, parseServerVersion } from "@ferry/natsd";
import { natsConnectOptions, natsServers, provision, siteAssets, storageSettings, type NatsRole, type Service, type StorageSettings } from "@ferry/runtime";
import type { Logger } from "pino";
import type { SiteOptions } from "./options.js";
import { StartRefused, untilReady } from "./start-wait.js";
import { edgeStanding, type EdgeSetup } from "./edge.js";
import { gatewayHttps } from "./site-tls.js";

async function deployAtStart(natsUrl: string, o: SiteOptions, log: Logger): Promise<void> {
  const nc = await connect({ ...natsConnectOptions(natsUrl), name: "ferry-start" });
  try {
    const stores = await openStores(nc);
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
    // A --current that names no deployed pipeline is refused (with the deployed ones named): the site
    // still starts, keeping the current pipeline it had.
    if (current) await setCurrentPipeline(stores, current).catch((err: unknown) => log.error({ current, err: (err as Error).message }, "cannot make this pipeline current"));
  } finally {
    await nc.drain();
  }
}

/** The site's storage bounds, from its options (defaults: the runtime topology's). */
function siteStorage(o: SiteOptions): StorageSettings {
  return storageSettings({
    replicas: o.replicas, logMaxBytes: o.logStorageBytes, logMaxAgeMs: o.logMaxAgeMs,
    requestMaxBytes: o.submitStorageBytes, resultMaxBytes: o.resultStorageBytes, resultMaxAgeMs: o.resultMaxAgeMs,
  });
}

/** A server given by --nats-url is checked too: by the version its INFO names. */
function requireCurrentServer(version: string, natsUrl: string): void {
  const v = parseServerVersion(version);
  if (v && isCurrentEnough(v)) return;
  const where = natsServers(natsUrl).join(",");
  throw new StartRefused(`the NATS server at ${where} is nats-server ${version || "(unknown version)"}: Ferry needs ${MIN_NATS_SERVER.join(".")} or newer; upgrade it (Debian's newer suites carry current ones)`);
}

/**
 * Creates (or brings to their bounds) every stream and bucket of the site, as its admin: services
 * only open them, and devices can submit before any inferer runs.
 */
async function provisionSite(natsUrl: string, o: SiteOptions, log: Logger): Promise<void> {
  const nc = await connect({ ...natsConnectOptions(natsUrl), name: "ferry-provision" });
  try {
    requireCurrentServer(nc.info?.version ?? "", natsUrl);
    const done = await provision(nc, siteAssets(siteStorage(o)));
    const changed = done.filter((r) => r.action !== "unchanged");
    if (changed.length > 0) log.info({ assets: changed.map((r) => `${r.name} ${r.action}`) }, "site storage provisioned");
  } finally {
    await nc.drain();
  }
}

/**
 * The edge's link service. When heartbeats fail it asks the Ops API (signed with the edge's seed) whether
 * the hub revoked or lapsed this edge, and asks at once when the site's server logs a refused leaf link.
 */
async function startEdgeLink(natsUrl: string, edge: EdgeSetup, log: Logger): Promise<Service> {
  const link = await startLink({ natsUrl, edge: edge.name, pipeline: edge.pipeline, hubDomain: edge.hubDomain, logger: log.child({ service: "link" }), standing: () => edgeStanding(edge) });
  edge.onLeafRefused = () => link.recheck();
  return link;
}

/**
 * Provisions the site's streams and buckets (waiting for NATS and JetStream), publishes the given manifests, then starts
 * the asked services in order, pushing each onto `services` as it starts (so that a failure can stop the
 * ones already running). `as(role)` is the server's URL for that role. Returns the gateway's URL, if any.
 */
export async function startServices(o: SiteOptions, edge: EdgeSetup | undefined, as: (role: NatsRole) => string, log: Logger, services: Service[]): Promise<{ url: string; grpcPort?: number } | undefined> {
  // The site's pipelines are deployments (KV + object store) that inferers watch; the manifests given
  // here are published unless the same models are deployed already.
  await untilReady("NATS and JetStream", () => provisionSite(as("admin"), o, log), log, o.startWaitMs);
  if (o.services.includes("inferer") || o.services.includes("deployer")) await deployAtStart(as("admin"), o, log);
  if (o.services.includes("logger")) services.push(await startLogger({
    natsUrl: as("logger"), logger: log.child({ service: "logger" }),
  }));
  if (o.services.includes("deployer")) services.push(await startDeployer({ natsUrl: as("deployer"), logger: log.child({ service: "deployer" }) }));
  if (o.services.includes("inferer")) {
    const inferer = {
      natsUrl: as("inferer"), manifests: [], watch: true, cacheDir: join(o.data, "cache"), intraOpThreads: o.threads,
      partition: edge?.name ?? o.partition, logDropBytes: o.logDropBytes, logRecords: o.logRecords, logAck: o.logAck,
      batching: o.batchWindowMs === undefined ? false as const : { windowMs: o.batchWindowMs, maxBatch: o.batchMax },
      durable: { maxDeliveries: o.maxDeliveries },
      arrowDecodeThreads: o.decoderThreads, arrowDecodeTimeoutMs: o.decodeTimeoutMs,
    };
    services.push(o.workers > 1
      ? await startPool({ workers: o.workers, inferer, logLevel: o.logLevel })
      : await startInferer({ ...inferer, logger: log.child({ service: "inferer" }) }));
  }
  if (edge && o.services.includes("link")) services.push(await startEdgeLink(as("link"), edge, log));
  if (!o.services.includes("gateway")) return undefined;
  const gw = await startGateway({
    natsUrl: as("gateway"), port: o.port, host: o.host, bodyLimit: o.bodyLimit, timeoutMs: o.timeoutMs,
    maxInFlight: o.maxInFlight, maxPending: o.maxPending, bodyTimeoutMs: o.bodyTimeoutMs, keepAliveTimeoutMs: o.keepAliveTimeoutMs,
    ...(o.grpcPort !== undefined ? { grpcPort: o.grpcPort } : {}),
    ...await gatewayHttps(o).then((https) => (https ? { https } : {})),
    logger: log.child({ service: "gateway" }),
  });
  services.push(gw);
  return { url: gw.url, ...(gw.grpcPort !== undefined ? { grpcPort: gw.grpcPort } : {}) };
}
