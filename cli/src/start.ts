import { join } from "node:path";
import type { NatsServer } from "@ferry/natsd";
import type { NatsRole, Service } from "@ferry/runtime";
import { pino, type Logger } from "pino";
import type { NatsServerOptions, StartOptions } from "./options.js";
import { startHub } from "./hub.js";
import { joinInBackground, prepareEdge } from "./edge.js";
import { natsSpawner, passwordsFor } from "./site-nats.js";
import { startServices } from "./site-services.js";
import { roleUrl, type SitePasswords } from "./site-users.js";
import { siteNatsTls } from "./site-tls.js";
import { caFingerprint, type TlsFiles } from "@ferry/natsd";
import { readFile } from "node:fs/promises";

/** What `ferry start` runs; `stop()` stops the services, then the spawned nats-server. */
export interface Site {
  /** The NATS server's URL (without credentials). */
  readonly natsUrl: string;
  /** Role passwords, when the server requires credentials (`--nats-auth`, `FERRY_NATS_SECRET`). */
  readonly passwords: SitePasswords | undefined;
  readonly url: string | undefined;
  readonly services: Service[];
  /** The CA clients check this site's (or hub's) certificates against, when it serves TLS: its file and SHA-256. */
  readonly ca?: { file: string; sha256: string } | undefined;
  stop(): Promise<void>;
}

/** `ferry start nats`: one nats-server (of a cluster), nothing else. */
async function startServerOnly(o: NatsServerOptions, log: Logger): Promise<Site> {
  const passwords = await passwordsFor(o);
  const tls = await siteNatsTls(o);
  const nats = await natsSpawner(o, undefined, passwords, log, tls)(o.natsPort);
  return { natsUrl: nats.url, passwords, url: undefined, services: [], stop: () => nats.stop(), ca: await caOf(tls) };
}

/** The CA a TLS site's clients check its server against: its file and SHA-256. */
async function caOf(tls: TlsFiles | undefined): Promise<Site["ca"]> {
  return tls ? { file: tls.caFile, sha256: caFingerprint(await readFile(tls.caFile, "utf8")) } : undefined;
}

/** Starts the asked services, spawning a local nats-server first when no NATS URL is given. */
export async function startSite(o: StartOptions, log: Logger = pino({ level: o.logLevel })): Promise<Site> {
  if (o.command === "start ops") return startHub(o, log);
  // One server of a cluster: its JetStream answers once enough servers are up, so nothing else runs here.
  if (o.command === "start nats") return startServerOnly(o, log);
  const edge = o.bundle ? await prepareEdge(o.bundle, o.data, log) : undefined;
  if (edge && o.natsUrl) log.warn({ edge: edge.name }, `NATS_URL is given: that server must have JetStream domain ${edge.name} and the leaf link to the hub (credentials in ${join(o.data, "edge")})`);
  const passwords = await passwordsFor(o);
  const tls = o.natsUrl ? undefined : await siteNatsTls(o);
  // This process's services (and inferer workers) check the server against the site's CA.
  if (tls) process.env.FERRY_NATS_CA = tls.caFile;
  const spawnNats = natsSpawner(o, edge, passwords, log, tls);
  let nats: NatsServer | undefined = o.natsUrl ? undefined : await spawnNats(o.natsPort);
  const serverUrl = o.natsUrl ?? nats!.url;
  const services: Service[] = [];
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
    const url = await startServices(o, edge, (role: NatsRole) => roleUrl(serverUrl, role, passwords), log, services);
    return { natsUrl: serverUrl, passwords, url, services, stop, ca: await caOf(tls) };
  } catch (err) {
    await stop();
    throw err;
  }
}
