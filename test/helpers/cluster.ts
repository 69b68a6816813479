import { mkdtemp, rm } from "node:fs/promises";
import { freePort } from "./free-port.js";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StorageType, jetstreamManager, type ClusterInfo, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type ConnectionOptions, type NatsConnection } from "@nats-io/transport-node";
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

/**
 * Starts `n` clustered servers and waits until JetStream can place an R`n` stream.
 * Ports are fixed up front: routes must name them, and a restarted server must come back on them.
 */
export async function startTestCluster(n = 3): Promise<TestCluster> {
  const clientPorts: number[] = [];
  const routePorts: number[] = [];
  // A port probed and closed may come back from a later probe: skip repeats.
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
    await untilJetStream(servers.map((s) => s.url), n);
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

/**
 * Waits until an R`replicas` stream can be placed. Account info answers as soon as a meta leader is
 * elected, but until every server has joined the meta group an R3 stream gets "no suitable peers
 * for placement" (nats-server 2.9.10, for about a second after start): a throwaway stream proves it.
 */
export async function untilJetStream(urls: readonly string[], replicas: number, timeoutMs = 30_000, auth?: Pick<ConnectionOptions, "user" | "pass" | "tls">): Promise<void> {
  const nc: NatsConnection = await connect({ servers: [...urls], maxReconnectAttempts: -1, ...auth });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 2000, checkAPI: false });
    await until(`JetStream placing R${replicas} streams`, async () => {
      try {
        await jsm.streams.add({ name: "FERRY_CLUSTER_PROBE", subjects: ["ferry-cluster-probe"], num_replicas: replicas, storage: StorageType.Memory });
        await jsm.streams.delete("FERRY_CLUSTER_PROBE");
        return true;
      } catch {
        return false;
      }
    }, timeoutMs);
  } finally {
    await nc.close();
  }
}

/** Client options for one of the cluster's servers first, the others after it in order: to fail over, not to balance. */
export function preferring(urls: readonly string[], first: number, name: string): ConnectionOptions {
  return {
    servers: [...urls.slice(first), ...urls.slice(0, first)],
    noRandomize: true,
    maxReconnectAttempts: -1,
    name,
  };
}

/** The stream's RAFT view, from its leader: who leads and how each follower stands. */
export async function streamCluster(jsm: JetStreamManager, stream: string): Promise<ClusterInfo | undefined> {
  try {
    return (await jsm.streams.info(stream)).cluster;
  } catch {
    return undefined; // mid-election: no leader answers
  }
}

/**
 * Whether the leader counts server `name` as a current follower that answers now. A killed peer
 * stays `current: true` for about 10 s in nats-server 2.9 (until its silence exceeds the lost-quorum
 * interval), so being current is not enough: it must also have been heard from in the last second
 * and owe no entries.
 */
export function isCaughtUp(c: ClusterInfo | undefined, name: string): boolean {
  const peer = c?.replicas?.find((p) => p.name === name);
  if (c?.leader === name) return true;
  return !!peer && peer.current && !peer.offline && (peer.lag ?? 0) === 0 && peer.active < 1e9;
}

/**
 * Moves the stream's leadership to server `name`. nats-server 2.9's step-down hands it to a random
 * current follower (it takes no preferred server), so this steps down until `name` has it.
 */
export async function leadTo(nc: NatsConnection, jsm: JetStreamManager, stream: string, name: string, tries = 12): Promise<void> {
  for (let i = 0; i < tries; i++) {
    const before = await streamCluster(jsm, stream);
    if (before?.leader === name) return;
    if (before?.leader) {
      await nc.request(`$JS.API.STREAM.LEADER.STEPDOWN.${stream}`, undefined, { timeout: 5000 }).catch(() => undefined);
    }
    await until(`a new ${stream} leader`, async () => {
      const now = await streamCluster(jsm, stream);
      return !!now?.leader && now.leader !== before?.leader;
    }, 20_000);
  }
  throw new Error(`${stream}'s leader did not move to ${name} in ${tries} step-downs`);
}
