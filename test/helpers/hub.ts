import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createUser } from "@nats-io/nkeys";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { LeafDenied, type EdgeCredentials } from "@ferry/contracts";
import { start as startDeployer } from "@ferry/deployer";
import { start as startLogger } from "@ferry/logger";
import { startNatsServer, type NatsServer } from "@ferry/natsd";
import { provisionSite } from "./site.js";
import { start as startOps, type Ops, type OpsOptions } from "@ferry/ops";
import { fetchTrusting, type Service } from "@ferry/runtime";
import { models } from "./paths.js";
import { quiet } from "./site.js";
import { freePort } from "./free-port.js";


/** An Ops hub with its deployer and logger (FERRY_LOGS_ALL), as `ferry start ops` runs it. */
export interface TestHub {
  ops: Ops;
  nc: NatsConnection;
  dir: string;
  /** The hub's admin token for the Ops API (OpsOptions.adminToken), and the header that sends it. */
  adminToken: string;
  auth: { Authorization: string };
  /** `fetch` trusting the hub's CA (the Ops API is HTTPS with the hub's own certificate). */
  fetch: typeof fetch;
  /** Stops the hub's services and server, keeping its data (to start it again). */
  stop(): Promise<void>;
  /** Starts it again on the same ports and data. */
  restart(): Promise<TestHub>;
  /** Stops it and removes its data. */
  destroy(): Promise<void>;
}

/** A fresh Ops API token, as FERRY_OPS_ADMIN_TOKEN would hold one. */
export function newApiToken(): string {
  return `ferry_${randomBytes(32).toString("base64url")}`;
}

/** Starts a hub on fixed free ports in a temp folder (or `dir`). */
export async function startTestHub(o: Partial<OpsOptions> = {}, dir?: string): Promise<TestHub> {
  const data = dir ?? await mkdtemp(join(tmpdir(), "ferry-hub-"));
  const opts: OpsOptions = {
    dataDir: data, port: o.port ?? await freePort(), natsPort: o.natsPort ?? await freePort(), leafPort: o.leafPort ?? await freePort(),
    host: "127.0.0.1", logger: quiet, adminToken: newApiToken(), ...o,
  };
  const ops = await startOps(opts);
  const login = { servers: ops.natsUrl, user: ops.login.user, pass: ops.login.pass, tls: ops.natsTls, maxReconnectAttempts: -1, reconnectTimeWait: 250 };
  const nc = await connect(login);
  const services: Service[] = [
    await startDeployer({ nc: await connect(login), logger: quiet }),
    await startLogger({ nc: await connect(login), stream: "FERRY_LOGS_ALL", logger: quiet }),
  ];
  const stop = async (): Promise<void> => {
    await nc.close();
    for (const s of services.reverse()) await s.stop();
    await ops.stop();
  };
  return {
    ops, nc, dir: data, stop, adminToken: opts.adminToken!, auth: { Authorization: `Bearer ${opts.adminToken}` }, fetch: fetchTrusting(ops.ca),
    restart: () => startTestHub(opts, data),
    destroy: async () => {
      await stop();
      await rm(data, { recursive: true, force: true });
    },
  };
}

/** The house-price model uploaded and its pipeline published on the hub through the Ops API; resolves to the version. */
export async function publishHousePrice(hub: TestHub, name = "edge-houseprice"): Promise<string> {
  const bytes = await readFile(join(models, "house-price-estimator.onnx"));
  const up = await hub.fetch(`${hub.ops.url}/models`, { method: "POST", body: bytes, headers: { "Content-Type": "application/octet-stream", ...hub.auth } });
  const { sha256 } = await up.json() as { sha256: string };
  const res = await hub.fetch(`${hub.ops.url}/pipelines/${name}/publish`, {
    method: "POST", headers: { "Content-Type": "application/json", ...hub.auth },
    body: JSON.stringify({ pipeline: name, steps: [{ model: "house-price-estimator", sha256 }] }),
  });
  const body = await res.json() as { pipeline_version?: string; error?: string };
  if (res.status !== 200) throw new Error(`publish failed: ${res.status} ${JSON.stringify(body)}`);
  return body.pipeline_version!;
}

/** POSTs JSON to the Ops API, as its admin. */
export async function opsPost(hub: TestHub, path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await hub.fetch(`${hub.ops.url}${path}`, { method: "POST", headers: { "Content-Type": "application/json", ...hub.auth }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json() as Record<string, unknown> };
}

/** What an edge holds after `POST /join`: the hub's answer and the seed of the nkey it made (the hub never sees it). */
export type JoinedEdge = EdgeCredentials & { seed: string };

/** A new user nkey: its public key and seed. */
export function newNkey(): { nkey: string; seed: string } {
  const kp = createUser();
  return { nkey: kp.getPublicKey(), seed: new TextDecoder().decode(kp.getSeed()) };
}

/** `POST /join` as an edge does it, with a new nkey (or `key`); `creds` is set when the hub said 200. */
export async function joinEdge(hub: TestHub, name: string, token: string, key = newNkey()): Promise<{ status: number; json: Record<string, unknown>; creds?: JoinedEdge; seed: string }> {
  const res = await hub.fetch(`${hub.ops.url}/join`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ edge_name: name, join_token: token, nkey: key.nkey }) });
  const json = await res.json() as Record<string, unknown>;
  return { status: res.status, json, seed: key.seed, ...(res.status === 200 ? { creds: { ...(json as unknown as EdgeCredentials), seed: key.seed } } : {}) };
}

/**
 * An edge's nats-server: JetStream domain = its name, a leaf link to the hub signed in with its nkey seed,
 * over TLS checked against the hub's CA (`ca`, PEM; kept in the edge's folder as an edge keeps it).
 */
export async function startEdgeServer(creds: JoinedEdge, dataDir: string, ca: string, port = 0, log?: (line: string) => void): Promise<NatsServer> {
  await mkdir(dataDir, { recursive: true });
  const caFile = join(dataDir, "hub-ca.pem");
  await writeFile(caFile, ca, { mode: 0o600 });
  const server = await startNatsServer({
    dataDir, port, serverName: creds.edge_name, jetstreamDomain: creds.edge_name, syncInterval: "always", ...(log ? { log } : {}),
    leafRemotes: [{ url: creds.leaf_url, nkeySeed: creds.seed, tls: { caFile }, denyImports: [...LeafDenied], denyExports: [...LeafDenied] }],
  });
  await provisionSite(server.url);
  return server;
}
