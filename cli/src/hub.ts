import { join } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { HubLogStream } from "@ferry/contracts";
import { type Service } from "@ferry/runtime";
import { start as startDeployer } from "@ferry/deployer";
import { start as startLogger } from "@ferry/logger";
import { start as startOps, type Ops } from "@ferry/ops";
import type { Logger } from "pino";
import type { HubOptions } from "./options.js";
import type { Site } from "./site.js";
import { givenTlsFiles } from "./tls-options.js";

/**
 * `ferry start ops`: the Ops hub (its own nats-server with JetStream domain `hub` and a leaf node
 * listener), plus the hub's deployer (publishing) and a logger answering from FERRY_LOGS_ALL.
 */
export async function startHub(o: HubOptions, log: Logger): Promise<Site> {
  const tls = givenTlsFiles(o, "the Ops hub");
  const ops = await startOps({
    dataDir: join(o.data, "hub"),
    ...(tls ? { tls } : {}),
    port: o.opsPort, host: o.host,
    natsPort: o.natsPort, natsHost: o.natsHost, natsSync: o.natsSync, leafPort: o.leafPort,
    ...(o.publicHost ? { publicHost: o.publicHost } : {}),
    tokenTtlMs: o.tokenTtlMs, contactTtlMs: o.contactTtlMs,
    storage: { logMaxBytes: o.logStorageBytes, logMaxAgeMs: o.logMaxAgeMs, replicas: o.replicas },
    ...(o.adminToken ? { adminToken: o.adminToken } : {}),
    ...(o.oidcIssuer ? { oidc: { issuer: o.oidcIssuer, audience: o.oidcAudience!, jwks: o.oidcJwks!, roleClaim: o.oidcRoleClaim } } : {}),
    logger: log.child({ service: "ops" }),
  });
  const services: Service[] = [ops];
  const stop = async (): Promise<void> => {
    for (const s of [...services].reverse()) await s.stop().catch((err: unknown) => log.error({ err }, `stopping ${s.name}`));
  };
  try {
    services.push(await startDeployer({ nc: await hubConnection(ops, "ferry-hub-deployer"), logger: log.child({ service: "deployer" }) }));
    services.push(await startLogger({ nc: await hubConnection(ops, "ferry-hub-logger"), stream: HubLogStream, logger: log.child({ service: "logger" }) }));
  } catch (err) {
    await stop();
    throw err;
  }
  return { natsUrl: ops.natsUrl, passwords: undefined, url: ops.url, services, stop, opsAdminToken: ops.adminTokenMade, ca: { file: tls?.caFile ?? join(o.data, "hub", "tls", "ca.pem"), sha256: ops.caFingerprint } };
}

function hubConnection(ops: Ops, name: string): Promise<NatsConnection> {
  return connect({ servers: ops.natsUrl, user: ops.login.user, pass: ops.login.pass, tls: ops.natsTls, name, maxReconnectAttempts: -1, reconnectTimeWait: 250, noAsyncTraces: true });
}
