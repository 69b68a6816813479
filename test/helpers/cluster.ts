import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { startNatsServer, type NatsServer } from "@ferry/natsd";
import { until } from "./site.js";

/** Three (or n) clustered nats-servers with JetStream on loopback, each in its own temp folder. */
export interface TestCluster {
  /** The running servers; `servers[i]` is replaced by `restart(i)`. */
  readonly servers: NatsServer[];
  /** Client URLs of all servers, in server order: connect with all of them to fail over. */
  readonly urls: string[];
  /** Server names (`ferry-0`, …), as JetStream's cluster info names the peers. */
  readonly names: string[];
  /** SIGKILLs server i (a crash: no lame duck, no flush). */
  kill(i: number): Promise<void>;
  /** Starts server i again on the same ports with the same store. */
  restart(i: number): Promise<NatsServer>;
  /** Stops every server and removes the folders. */
  stop(): Promise<void>;
}

/** A free loopback port: listen on port 0, note it, close (a race with other processes is unlikely here). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", resolve);
  });
  const address = srv.address();
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  if (!address || typeof address !== "object") throw new Error("no port");
  return address.port;
}

/**
 * Starts `n` clustered servers and waits until JetStream answers (a meta leader is elected).
 * Ports are fixed up front: routes must name them, and a restarted server must come back on them.
 */
export async function startTestCluster(n = 3): Promise<TestCluster> {
  const clientPorts: number[] = [];
  const routePorts: number[] = [];
  // One at a time: two listens on port 0 at once could not return the same port, but sequential
  // close-then-listen could; distinct values are what matters.
  while (clientPorts.length < n) {
    const p = await freePort();
    if (!clientPorts.includes(p)) clientPorts.push(p);
  }
  while (routePorts.length < n) {
    const p = await freePort();
    if (!routePorts.includes(p) && !clientPorts.includes(p)) routePorts.push(p);
  }
  const routes = routePorts.map((p) => `nats-route://127.0.0.1:${p}`);
  const names = clientPorts.map((_, i) => `ferry-${i}`);
  const dirs: string[] = [];
  const servers: NatsServer[] = [];
  const startOne = (i: number): Promise<NatsServer> => startNatsServer({
    dataDir: dirs[i]!, port: clientPorts[i], serverName: names[i],
    cluster: { name: "ferry-test", port: routePorts[i]!, routes },
  });
  const stop = async (): Promise<void> => {
    await Promise.all(servers.map((s) => s.stop()));
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  };
  try {
    for (let i = 0; i < n; i++) dirs.push(await mkdtemp(join(tmpdir(), `ferry-cluster-${i}-`)));
    for (let i = 0; i < n; i++) servers.push(await startOne(i));
    await untilJetStream(servers.map((s) => s.url));
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    servers, names, urls: servers.map((s) => s.url), stop,
    kill: (i) => servers[i]!.kill(),
    restart: async (i) => (servers[i] = await startOne(i)),
  };
}

/** Waits until JetStream answers account info through these servers (the cluster has a meta leader). */
export async function untilJetStream(urls: readonly string[], timeoutMs = 30_000): Promise<void> {
  const nc: NatsConnection = await connect({ servers: [...urls], maxReconnectAttempts: -1 });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 1000, checkAPI: false });
    await until("JetStream in the cluster", async () => {
      try {
        await jsm.getAccountInfo();
        return true;
      } catch {
        return false;
      }
    }, timeoutMs);
  } finally {
    await nc.close();
  }
}
