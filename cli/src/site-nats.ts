import { join } from "node:path";
import { startNatsServer, type NatsServer, type TlsFiles } from "@ferry/natsd";
import type { Logger } from "pino";
import type { OptionsOf } from "./options.js";
import { edgeServerOptions, watchLeafRefusal, type EdgeSetup } from "./edge.js";
import { deviceUsers, devicesFile, readDevices, watchDevices } from "./site-devices.js";
import { routeAuth, secretPasswords, sitePasswords, siteUsers, usersFile, type SitePasswords } from "./site-users.js";

/** What spawning the site's nats-server reads: `ferry start` and `ferry start nats` both take these. */
type SpawnOptions = Pick<OptionsOf<"start nats">, "data" | "natsHost" | "natsName" | "natsSync" | "bodyLimit" | "clusterPort" | "routes" | "natsSecret">;

/** What finding the site's passwords reads (a NATS_URL: the site's server is elsewhere). */
type PasswordOptions = Pick<OptionsOf<"start nats">, "data" | "natsSecret"> & { natsUrl?: string | undefined };

/** Largest NATS message for a body limit: replies can be larger than requests (JSON out for Arrow in). */
export function maxPayloadFor(bodyLimit: number): number {
  return Math.min(64 * 1024 * 1024, Math.max(8 * 1024 * 1024, 4 * bodyLimit));
}

/**
 * The site's role passwords: derived from FERRY_NATS_SECRET when it is set; else, for a server spawned here
 * kept in `<data>/nats/users.json` (0600); none for a server given by NATS_URL (its URL carries them).
 */
export async function passwordsFor(o: PasswordOptions): Promise<SitePasswords | undefined> {
  if (o.natsSecret) return secretPasswords(o.natsSecret);
  // A spawned server always requires a user per role, on loopback too: any local process could
  // otherwise read every payload, forge replies and purge the logs.
  return !o.natsUrl ? sitePasswords(usersFile(o.data)) : undefined;
}

/** Spawns the site's nats-server on `port` (its users, cluster routes and edge link from the options). */
export type NatsSpawner = (port: number) => Promise<NatsServer>;

/** How this site spawns its nats-server (again on the same port, when an edge's leaf link changes). */
export function natsSpawner(o: SpawnOptions, edge: EdgeSetup | undefined, passwords: SitePasswords | undefined, log: Logger, tls?: TlsFiles): NatsSpawner {
  const cluster = o.clusterPort > 0
    ? { cluster: { name: "ferry", port: o.clusterPort, routes: o.routes, ...(o.natsSecret ? { auth: routeAuth(o.natsSecret) } : {}) } }
    : {};
  const credentials = !passwords ? { credentials: "none" }
    : { credentials: o.natsSecret ? "derived from FERRY_NATS_SECRET (ferry nats-password ROLE)" : usersFile(o.data), deviceUser: "device" };
  const roleUsers = passwords ? siteUsers(passwords) : undefined;
  const devices = devicesFile(o.data);
  return async (port) => {
    // Named devices (`ferry device add`) log in too; changes to their file are picked up while running.
    const users = roleUsers ? [...roleUsers, ...deviceUsers(await readDevices(devices))] : undefined;
    const server = await startNatsServer({
      dataDir: join(o.data, "nats"),
      port,
      host: o.natsHost,
      serverName: o.natsName,
      syncInterval: o.natsSync,
      maxPayload: maxPayloadFor(o.bodyLimit),
      log: (line) => {
        log.debug({ nats: line });
        if (edge) watchLeafRefusal(edge, line);
      },
      ...(users ? { users } : {}),
      ...cluster,
      ...(edge ? edgeServerOptions(edge) : {}),
      ...(tls ? { tls } : {}),
    });
    if (roleUsers) watchDevices(devices, server, roleUsers, (err) => log.error({ err, file: devices }, "cannot reload the device users"));
    log.info({
      ...(tls ? { tlsCa: tls.caFile } : {}),
      url: server.url, version: server.version, ...credentials, ...(o.clusterPort ? { cluster: "ferry", routes: o.routes } : {}),
      ...(edge ? { edge: edge.name, linked: edge.credentials !== undefined } : {}),
    }, "nats-server started");
    return server;
  };
}
