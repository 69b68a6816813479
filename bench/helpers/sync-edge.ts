// Helpers of bench/sync.ts: the edge, a nats-server with JetStream domain = the edge's name and a leaf
// link to the hub with the credentials from POST /join, holding FERRY_LOGS as `ferry start` provisions it.
import { setTimeout as sleep } from "node:timers/promises";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { LeafDenied, heartbeatSubject, type EdgeCredentials, type HeartbeatReply } from "@ferry/contracts";
import { startNatsServer, type LeafCompression, type NatsServer } from "@ferry/natsd";
import { provision, siteAssets, storageSettings } from "@ferry/runtime";
import type { Jet } from "./logs-ferry.js";
import { freePort, type Proc } from "./procs.js";

/** The edge's server and the bench's connection to it. */
export interface BenchEdge {
  server: NatsServer;
  jet: Jet;
  proc: Proc;
  compression: LeafCompression;
  /** The server's monitoring port (its /leafz tells the compression the link runs with). */
  monitorPort: number;
  stop(): Promise<void>;
}

/** The edge's leaf remote: the hub's leaf URL and login, over TLS checked against `hubCaFile` when given. */
export interface EdgeLink {
  url: string;
  /** The edge's nkey seed (a joined edge), or a user and password (the bare plain-text pair). */
  seed?: string;
  user?: string;
  password?: string;
  hubCaFile?: string;
}

/** The leaf link `ferry start --bundle` makes from joined credentials: TLS, the hub's CA pinned, the edge's nkey. */
export function linkOf(creds: EdgeCredentials & { seed: string }, hubCaFile: string): EdgeLink {
  return { url: creds.leaf_url, seed: creds.seed, hubCaFile };
}

/**
 * Starts the edge's nats-server and provisions its assets (FERRY_LOGS among them) with the default bounds
 * (10 GiB of logs); `compression` is its leaf remote's (started again on the same folder, it keeps its data).
 */
export async function startEdge(name: string, link: EdgeLink, dataDir: string, log: (line: string) => void, compression: LeafCompression): Promise<BenchEdge> {
  const monitorPort = await freePort();
  const server = await startNatsServer({
    dataDir, port: 0, serverName: name, jetstreamDomain: name, syncInterval: "always", log,
    extraConfig: `http: "127.0.0.1:${monitorPort}"`,
    leafRemotes: [{
      url: link.url, ...(link.seed ? { nkeySeed: link.seed } : { user: link.user, password: link.password }),
      denyImports: [...LeafDenied], denyExports: [...LeafDenied], compression,
      ...(link.hubCaFile ? { tls: { caFile: link.hubCaFile } } : {}),
    }],
  });
  let nc: NatsConnection | undefined;
  try {
    nc = await connect({ servers: server.url, name: "ferry-bench-sync-edge", noAsyncTraces: true });
    const jet: Jet = { nc, js: jetstream(nc), jsm: await jetstreamManager(nc) };
    await provision(nc, siteAssets(storageSettings()));
    const proc = { label: "edge nats-server", pid: server.process.pid ?? -1, node: false };
    return { server, jet, proc, compression, monitorPort, stop: async () => { await jet.nc.close(); await server.stop(); } };
  } catch (err) {
    await nc?.close();
    await server.stop();
    throw err;
  }
}

/** Whether a heartbeat from the edge crosses the leaf link and the hub answers it `ok`. */
async function reachesHub(nc: NatsConnection, edge: string): Promise<boolean> {
  try {
    const reply = await nc.request(heartbeatSubject(edge), JSON.stringify({ edge, pipelines: [] }), { timeout: 1000 });
    return reply.json<HeartbeatReply>().ok;
  } catch {
    return false;
  }
}

/** Resolves once the edge reaches the hub (ms it took); throws after `timeoutMs`. */
export async function waitForLink(nc: NatsConnection, edge: string, timeoutMs: number): Promise<number> {
  const start = performance.now();
  while (!(await reachesHub(nc, edge))) {
    if (performance.now() - start > timeoutMs) throw new Error(`the edge ${edge} did not reach the hub within ${timeoutMs} ms`);
    await sleep(100);
  }
  return performance.now() - start;
}
