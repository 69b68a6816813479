// Helpers of bench/sync.ts: the Ops hub, run in this process as `ferry start ops` runs it (the Ops API,
// its nats-server as a child, a deployer and a hub-mode logger on FERRY_LOGS_ALL), stopped and started
// again on the same ports and data; and the Ops API calls that publish a pipeline and join an edge.
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createUser } from "@nats-io/nkeys";
import { connect, type ConnectionOptions } from "@nats-io/transport-node";
import { HubLogStream, decodeEdgeBundle, type EdgeCredentials } from "@ferry/contracts";
import { fetchTrusting, type Service } from "@ferry/runtime";
import { start as startDeployer } from "@ferry/deployer";
import { start as startLogger } from "@ferry/logger";
import { start as startOps, type Ops, type OpsOptions } from "@ferry/ops";
import type { Logger } from "pino";
import { paths } from "./config.js";
import { childPids, commandLine, freePort, type Proc } from "./procs.js";

/** A running hub: Ops, its services, and its nats-server child (for CPU figures). */
interface RunningHub {
  ops: Ops;
  services: Service[];
  nats: Proc;
}

/** The Ops hub on fixed loopback ports and one data folder, so that it can stop and come back. */
export class Hub {
  readonly #options: OpsOptions;
  #running: RunningHub | undefined;

  private constructor(options: OpsOptions) {
    this.#options = options;
  }

  /** A hub (not started) on three free loopback ports, keeping its data in `dir`. */
  static async create(dir: string, logger: Logger): Promise<Hub> {
    const adminToken = `ferry_${randomBytes(32).toString("base64url")}`;
    return new Hub({ dataDir: dir, port: await freePort(), natsPort: await freePort(), leafPort: await freePort(), host: "127.0.0.1", logger, adminToken });
  }

  /** The Ops API's admin token (FERRY_OPS_ADMIN_TOKEN of this hub). */
  get adminToken(): string {
    return this.#options.adminToken!;
  }

  /** The client port of the hub's nats-server (fixed across restarts). */
  get natsPort(): number {
    return this.#options.natsPort!;
  }

  /** The hub's CA (PEM file, made at its first start): edges check its leaf port against it. */
  get caFile(): string {
    return join(this.#options.dataDir, "tls", "ca.pem");
  }

  /** The hub's leaf node port (fixed across restarts). */
  get leafPort(): number {
    return this.#options.leafPort!;
  }

  /** Starts Ops (with its nats-server), then the deployer and the logger on FERRY_LOGS_ALL. */
  async start(): Promise<RunningHub> {
    const ops = await startOps(this.#options);
    const services: Service[] = [];
    // Held before anything else can fail, so that stop() finds what is running.
    const running: RunningHub = { ops, services, nats: { label: "hub nats-server", pid: -1, node: false } };
    this.#running = running;
    running.nats = await hubNatsProc(this.#options.dataDir);
    const login: ConnectionOptions = { servers: ops.natsUrl, user: ops.login.user, pass: ops.login.pass, tls: ops.natsTls, maxReconnectAttempts: -1, reconnectTimeWait: 250, noAsyncTraces: true };
    const logger = this.#options.logger;
    services.push(await startDeployer({ nc: await connect({ ...login, name: "ferry-deployer" }), logger }));
    services.push(await startLogger({ nc: await connect({ ...login, name: "ferry-logger" }), stream: HubLogStream, logger }));
    return running;
  }

  /** Stops the services, Ops and its nats-server; the data stays. */
  async stop(): Promise<void> {
    const r = this.#running;
    this.#running = undefined;
    if (!r) return;
    for (const s of r.services.reverse()) await s.stop();
    await r.ops.stop();
  }
}

/** The hub's nats-server child: the one whose command line names the hub's data folder. */
async function hubNatsProc(dataDir: string): Promise<Proc> {
  const config = join(dataDir, "nats", "nats-server.conf");
  for (const pid of await childPids(process.pid)) {
    if (commandLine(pid).includes(config)) return { label: "hub nats-server", pid, node: false };
  }
  throw new Error(`no nats-server child runs ${config}`);
}

/** Where the Ops API is (HTTPS), the bearer token it takes, and a fetch that trusts the hub's CA. */
export interface OpsApi {
  url: string;
  token: string;
  fetch: typeof fetch;
}

/** The Ops API of a started hub, called with its admin token over HTTPS checked against its CA. */
export function opsApi(ops: Ops, token: string): OpsApi {
  return { url: ops.url, token, fetch: fetchTrusting(ops.ca) };
}

export async function opsPost(api: OpsApi, path: string, body: string | Buffer, contentType: string): Promise<Record<string, unknown>> {
  const res = await api.fetch(`${api.url}${path}`, { method: "POST", body, headers: { "Content-Type": contentType, Authorization: `Bearer ${api.token}` } });
  const json = await res.json() as Record<string, unknown>;
  if (res.status >= 300) throw new Error(`POST ${path} answered ${res.status}: ${JSON.stringify(json)}`);
  return json;
}

/** Uploads the house-price model and publishes `pipeline` with it; resolves to the pipeline version. */
export async function publishHousePrice(api: OpsApi, pipeline: string, model: string): Promise<string> {
  const { sha256 } = await opsPost(api, "/models", await readFile(paths.houseModel), "application/octet-stream");
  const manifest = { pipeline, steps: [{ model, sha256 }] };
  const published = await opsPost(api, `/pipelines/${pipeline}/publish`, JSON.stringify(manifest), "application/json");
  return String(published.pipeline_version);
}

/** Adds an edge for `pipeline` (POST /edges) and joins it (POST /join) with a new nkey; resolves to its credentials and seed. */
export async function addAndJoinEdge(api: OpsApi, edge: string, pipeline: string): Promise<EdgeCredentials & { seed: string }> {
  const added = await opsPost(api, "/edges", JSON.stringify({ name: edge, pipeline }), "application/json");
  const bundle = decodeEdgeBundle(String(added.edgeBundle));
  const kp = createUser();
  const joined = await opsPost(api, "/join", JSON.stringify({ edge_name: edge, join_token: bundle.JOIN_TOKEN, nkey: kp.getPublicKey() }), "application/json");
  return { ...(joined as unknown as EdgeCredentials), seed: new TextDecoder().decode(kp.getSeed()) };
}
