import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { HubDomain, LeafDenied, Subjects, type Heartbeat, type HeartbeatReply } from "@ferry/contracts";
import { readFile } from "node:fs/promises";
import { ensureOwnTls, startNatsServer, type NatsServer, type OwnTls } from "@ferry/natsd";
import { hubAssets, provision, storageSettings } from "@ferry/runtime";
import { provisionSite } from "./site.js";

/** The edge these tests join, and its leaf link's credentials on the stand-in hub. */
export const EDGE = "edge-a";
export const EDGE_PASSWORD = "edge-a-secret";
const OPS = { user: "ops", password: "ops-secret" };

/**
 * A stand-in for the Ops hub's NATS side (the real one is the `ops` service): a nats-server with
 * JetStream domain `hub`, users and a leaf node port, and a heartbeat responder that answers
 * `ok: true` for edges in `edges` (`ok: false` otherwise).
 */
export interface StandInHub {
  server: NatsServer;
  /** Its CA (PEM file): its client and leaf ports speak only TLS, as the real hub's do. */
  caFile: string;
  /** Ops' own connection to the hub. */
  nc: NatsConnection;
  dir: string;
  /** Edges the responder accepts; remove one to play "edge removed". */
  edges: Set<string>;
  /** Heartbeats received, newest last. */
  heartbeats: Heartbeat[];
  /** Stops the server, keeping its store and ports for {@link StandInHub.restart}. */
  stop(): Promise<void>;
  /** Starts the server again on the same ports and store. */
  restart(): Promise<void>;
  /** Stops it and removes its folder. */
  dispose(): Promise<void>;
}

async function spawnHub(dir: string, tls: OwnTls, port = 0, leafPort = 0): Promise<NatsServer> {
  return startNatsServer({
    dataDir: dir, port, leafPort, jetstreamDomain: HubDomain, serverName: "hub",
    users: [{ user: EDGE, password: EDGE_PASSWORD }, OPS], tls: { ...tls, handshakeFirst: true },
  });
}

async function opsConnection(server: NatsServer, tls: OwnTls): Promise<NatsConnection> {
  return connect({ servers: server.url, user: OPS.user, pass: OPS.password, tls: { ca: await readFile(tls.caFile, "utf8"), handshakeFirst: true } });
}

async function answerHeartbeats(nc: NatsConnection, hub: Pick<StandInHub, "edges" | "heartbeats">): Promise<void> {
  nc.subscribe(`${Subjects.heartbeatPrefix}*`, {
    callback: (err, msg) => {
      if (err) return;
      const hb = msg.json<Heartbeat>();
      hub.heartbeats.push(hb);
      const reply: HeartbeatReply = hub.edges.has(hb.edge) ? { ok: true } : { ok: false, detail: `edge ${hb.edge} was removed` };
      msg.respond(JSON.stringify(reply));
    },
  });
  await nc.flush();
}

/** Starts a stand-in hub on loopback with random ports. */
export async function startStandInHub(): Promise<StandInHub> {
  const dir = await mkdtemp(join(tmpdir(), "ferry-hub-"));
  const hub = { edges: new Set([EDGE]), heartbeats: [] as Heartbeat[] };
  const tls = await ensureOwnTls(join(dir, "tls"), "stand-in hub CA", ["127.0.0.1", "localhost"]);
  let server = await spawnHub(dir, tls);
  let nc = await opsConnection(server, tls);
  await provision(nc, hubAssets(storageSettings()));
  await answerHeartbeats(nc, hub);
  const stop = async (): Promise<void> => {
    await nc.close().catch(() => undefined);
    await server.stop();
  };
  const out: StandInHub = {
    ...hub, dir, caFile: tls.caFile,
    get server() { return server; },
    get nc() { return nc; },
    stop,
    restart: async () => {
      server = await spawnHub(dir, tls, server.port, server.leafPort);
      nc = await opsConnection(server, tls);
      await answerHeartbeats(nc, hub);
    },
    dispose: async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return out;
}

/** An edge site's nats-server: JetStream domain `edge-a`, linked to the hub as a leaf node (over TLS, trusting `hubCaFile`) with the deny list. */
export async function startLinkedEdge(dir: string, hubLeafPort: number, hubCaFile: string, port = 0): Promise<NatsServer> {
  const server = await startNatsServer({
    dataDir: dir, port, jetstreamDomain: EDGE,
    leafRemotes: [{ url: `nats-leaf://127.0.0.1:${hubLeafPort}`, user: EDGE, password: EDGE_PASSWORD, tls: { caFile: hubCaFile }, denyImports: [...LeafDenied], denyExports: [...LeafDenied] }],
  });
  await provisionSite(server.url);
  return server;
}
