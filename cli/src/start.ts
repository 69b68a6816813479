import { join } from "node:path";
import type { NatsRole, Service } from "@ferry/runtime";
import { pino, type Logger } from "pino";
import type { NatsServerOptions, StartOptions } from "./options.js";
import { lockDataFolder } from "./data-lock.js";
import { startHub } from "./hub.js";
import { joinInBackground, prepareEdge } from "./edge.js";
import { superviseNats } from "./nats-supervision.js";
import { natsSpawner, passwordsFor } from "./site-nats.js";
import { startServices } from "./site-services.js";
import { roleUrl } from "./site-users.js";
import { siteNatsTls } from "./site-tls.js";
import { caFingerprint, type TlsFiles } from "@ferry/natsd";
import { readFile } from "node:fs/promises";
import type { Site } from "./site.js";

/** `ferry start nats`: one nats-server (of a cluster), nothing else. */
async function startServerOnly(o: NatsServerOptions, log: Logger, onFatal: FatalHandler): Promise<Site> {
  const passwords = await passwordsFor(o);
  const tls = await siteNatsTls(o);
  const nats = await superviseNats(natsSpawner(o, undefined, passwords, log, tls), o.natsPort, log, onFatal);
  return { natsUrl: nats.supervisor.url, passwords, url: undefined, services: [], stop: () => nats.stop(), ca: await caOf(tls) };
}

/** The CA a TLS site's clients check its server against: its file and SHA-256. */
async function caOf(tls: TlsFiles | undefined): Promise<Site["ca"]> {
  return tls ? { file: tls.caFile, sha256: caFingerprint(await readFile(tls.caFile, "utf8")) } : undefined;
}

/** Told when the site cannot go on (its nats-server does not start again): the caller stops it. */
export type FatalHandler = (err: Error) => void;

/**
 * Starts the asked services, spawning a local nats-server first when no NATS URL is given. A start that
 * spawns a server holds its data folder (`ferry.lock`) until it stops: a second one is refused.
 */
export async function startSite(o: StartOptions, log: Logger = pino({ level: o.logLevel }), onFatal: FatalHandler = () => undefined): Promise<Site> {
  const spawns = o.command === "start ops" || o.command === "start nats" || !o.natsUrl;
  if (!spawns) return startOwned(o, log, onFatal);
  const lock = await lockDataFolder(o.data, o.command);
  try {
    const site = await startOwned(o, log, onFatal);
    return { ...site, stop: () => site.stop().finally(() => lock.release()) };
  } catch (err) {
    await lock.release();
    throw err;
  }
}

async function startOwned(o: StartOptions, log: Logger, onFatal: FatalHandler): Promise<Site> {
  if (o.command === "start ops") return startHub(o, log);
  // One server of a cluster: its JetStream answers once enough servers are up, so nothing else runs here.
  if (o.command === "start nats") return startServerOnly(o, log, onFatal);
  const edge = o.bundle ? await prepareEdge(o.bundle, o.data, log) : undefined;
  if (edge && o.natsUrl) log.warn({ edge: edge.name }, `NATS_URL is given: that server must have JetStream domain ${edge.name} and the leaf link to the hub (credentials in ${join(o.data, "edge")})`);
  const passwords = await passwordsFor(o);
  const tls = o.natsUrl ? undefined : await siteNatsTls(o);
  // This process's services (and inferer workers) check the server against the site's CA.
  if (tls) process.env.FERRY_NATS_CA = tls.caFile;
  const nats = o.natsUrl ? undefined : await superviseNats(natsSpawner(o, edge, passwords, log, tls), o.natsPort, log, onFatal);
  const serverUrl = o.natsUrl ?? nats!.supervisor.url;
  const services: Service[] = [];
  let relinking: Promise<void> | undefined;
  // Leaf remotes cannot be reloaded: the server starts again on the same port; services reconnect on their own.
  const rejoin = edge && !edge.credentials ? joinInBackground(edge, o.data, log, () => (relinking = nats?.supervisor.replace() ?? Promise.resolve()), o.joinRetryMs) : undefined;
  const stop = async (): Promise<void> => {
    rejoin?.stop();
    await relinking?.catch(() => undefined);
    for (const s of [...services].reverse()) await s.stop().catch((err: unknown) => log.error({ err }, `stopping ${s.name}`));
    await nats?.stop();
  };
  try {
    const as = (role: NatsRole): string => roleUrl(serverUrl, role, passwords);
    const gateway = await startServices(o, edge, as, log, services);
    await nats?.reportMetrics(as("admin"), o.natsName);
    return { natsUrl: serverUrl, passwords, url: gateway?.url, ...(gateway?.grpcPort !== undefined ? { grpcPort: gateway.grpcPort } : {}), services, stop, ca: await caOf(tls) };
  } catch (err) {
    await stop();
    throw err;
  }
}
