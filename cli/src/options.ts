import { parseArgs, type ParseArgsConfig } from "node:util";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { hostname } from "node:os";
import { parseDuration, parseSize } from "@ferry/contracts";
import { defaultWorkers } from "@ferry/inferer";
import { natsSecret, type NatsAuthMode } from "./site-users.js";

/** Everything `ferry start` can be told, from flags or the environment. */
export interface StartOptions {
  /** "nats": spawn the nats-server (alone: `ferry start nats`, one server of a cluster). */
  services: ("nats" | "gateway" | "inferer" | "logger" | "deployer" | "link" | "ops")[];
  port: number;
  host: string;
  data: string;
  natsPort: number;
  natsHost: string;
  natsUrl: string | undefined;
  /** Whether the spawned nats-server requires credentials (auto: when `natsHost` is not loopback). */
  natsAuth: NatsAuthMode;
  /** `FERRY_NATS_SECRET`: role (and route) passwords derived from it, for the server and the services. */
  natsSecret: string | undefined;
  /** The spawned server's name (unique in a cluster). */
  natsName: string;
  /** Route port of the spawned server in a cluster (0: no cluster), and the other servers' routes. */
  clusterPort: number;
  routes: string[];
  /** How long the services wait at start for NATS and JetStream (a cluster forming), ms. */
  startWaitMs: number;
  logLevel: string;
  manifests: string[];
  current: string | undefined;
  bodyLimit: number;
  timeoutMs: number;
  threads: number;
  maxInFlight: number;
  /** Gateway load shedding: inference requests held at once before 503 overloaded. */
  maxPending: number;
  partition: string;
  logStorageBytes: number;
  logMaxAgeMs: number;
  logDropBytes: number;
  replicas: number;
  logRecords: boolean;
  /** Batching for pipelines whose manifest does not say (undefined: off). */
  batchWindowMs: number | undefined;
  batchMax: number;
  /** Durable inference: tries per request, queue and result bounds. */
  maxDeliveries: number;
  submitStorageBytes: number;
  resultStorageBytes: number;
  resultMaxAgeMs: number;
  /** Positional arguments after the command (e.g. the manifest of `ferry deploy`). */
  args: string[];
  /** `ferry deploy --current`. */
  setCurrent: boolean;
  /** Inferers on worker threads (1: the inferer runs in the main thread). */
  workers: number;
  /** Gateway processes behind one port (`ferry start gateway` alone). */
  gateways: number;
  /** Ops hub (`ferry start ops`): API port, what bundles call it, leaf node port, token and contact periods. */
  opsPort: number;
  publicHost: string | undefined;
  leafPort: number;
  tokenTtlMs: number;
  contactTtlMs: number;
  /** EDGE_BUNDLE from Ops: the site joins the hub as this edge (see edge.ts). */
  bundle?: string;
  /** Between join attempts while the hub is unreachable, ms (no flag: tests shorten it). Default 30 000. */
  joinRetryMs?: number;
}

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** The demo pipelines served when no --pipeline is given. */
export const demoManifests = ["houseprice.json", "cv-demo.json", "houseprice-bucketed.json"]
  .map((f) => join(repoRoot, "models", "manifests", f));

export const usage = `ferry: Wallaroo-compatible edge inference over NATS

Usage:
  ferry start [gateway] [inferer] [logger] [deployer] [link]
                                             start services (default: all, in one process; link
                                             only with an EDGE_BUNDLE)
  ferry start nats [--cluster-port N --routes URLS]
                                             only a nats-server (with JetStream): one server of a
                                             cluster, users from FERRY_NATS_SECRET (compose.yaml)
  ferry nats-password ROLE                   a NATS role's password (admin, gateway, inferer, logger,
                                             deployer, link, device): from FERRY_NATS_SECRET, else
                                             from <data>/nats/users.json
  ferry start ops                            start an Ops hub: edges, bundles, publishing, every
                                             edge's logs (its own nats-server, domain "hub")
  ferry deploy MANIFEST [--set-current]      publish a pipeline version (models to the object store,
                                             manifest to KV); inferers swap it in while serving
  ferry undeploy PIPELINE                    stop serving a pipeline
  ferry current PIPELINE                     make PIPELINE the one behind POST /infer
  ferry logs [--out FILE] …                  print or export inference logs (ferry logs --help)
  ferry --help

With no NATS_URL, \`ferry start\` spawns a local nats-server (JetStream on, store under --data).
With an EDGE_BUNDLE from the Ops hub, the site joins the hub once (credentials kept in <data>/edge),
links its nats-server to the hub and follows the pipeline published there (no demo manifests).

Options (flag / environment / default):
  -p, --port N          FERRY_PORT        8080        HTTP port of the gateway
      --host ADDR       FERRY_HOST        0.0.0.0     HTTP listen address
  -d, --data DIR        FERRY_DATA        ./data      site data folder (NATS store, caches)
      --nats-port N     FERRY_NATS_PORT   4222        client port of the spawned nats-server
      --nats-host ADDR  FERRY_NATS_HOST   127.0.0.1   listen address of the spawned nats-server
      --nats-url URL    NATS_URL          (spawn)     use this NATS server instead of spawning one
                                                      (credentials in it: nats://user:pass@host:port)
      --nats-auth MODE  FERRY_NATS_AUTH   auto        on: the spawned nats-server requires a user per
                                                      role (passwords in <data>/nats/users.json, see
                                                      README "NATS users"); auto: on when --nats-host
                                                      is not loopback; off
      (env only)        FERRY_NATS_SECRET (none)      site secret (16+ chars): the spawned server's
                                                      role users and route user, and each service's
                                                      credentials on NATS_URL, derive from it
      --nats-name NAME  FERRY_NATS_NAME   ferry       name of the spawned nats-server (unique in a cluster)
      --cluster-port N  FERRY_CLUSTER_PORT (none)     the spawned server joins cluster "ferry" on this
                                                      route port ...
      --routes URLS     FERRY_ROUTES      (none)      ... with these servers (nats-route://host:port,...)
      --start-wait D    FERRY_START_WAIT  60s         how long services wait at start for NATS and
                                                      JetStream (e.g. a cluster still forming)
      --pipeline FILE   FERRY_PIPELINES   demo        deployment manifest to serve (repeatable;
                                                      env: comma-separated); published at start
                                                      unless the same models are deployed
      --current NAME    FERRY_CURRENT     first       pipeline answered on POST /infer
      --body-limit N    FERRY_BODY_LIMIT  16777216    largest request body, bytes
      --timeout MS      FERRY_TIMEOUT_MS  15000       how long the gateway waits for an inferer
      --threads N       FERRY_THREADS     1           onnxruntime intra-op threads per session
      --max-in-flight N FERRY_MAX_IN_FLIGHT 2       NATS requests in flight per pipeline before the
                                                      gateway coalesces the next ones
      --max-pending N   FERRY_MAX_PENDING 4096        inference requests the gateway holds before it
                                                      sheds load (503 overloaded, Retry-After)
      --partition NAME  FERRY_PARTITION   host name   the site's name in log records (metadata.partition)
      --log-storage S   LOCAL_INFERENCE_STORAGE 10Gi  most log bytes kept (Ki/Mi/Gi); oldest go first
      --log-max-age D   FERRY_LOG_MAX_AGE (none)      drop log records older than this (e.g. 30d, 12h)
      --log-drop-size S FERRY_LOG_DROP_SIZE 100Ki     inputs larger than this are left out of log records
      --replicas N      FERRY_REPLICAS    1           JetStream replicas of Ferry's streams (3 on a cluster)
      --log-records on|off FERRY_LOG_RECORDS on     publish one log record per inferred row
      --batch-window MS FERRY_BATCH_WINDOW off        merge concurrent requests to a pipeline into one
                                                      run within this window (manifests may override)
      --batch-max N     FERRY_BATCH_MAX   64          most requests merged into one run
      --max-deliveries N FERRY_MAX_DELIVERIES 5       tries of a durable request before an error result
      --submit-storage S FERRY_SUBMIT_STORAGE 1Gi     most bytes of durable requests waiting (then refused)
      --result-storage S FERRY_RESULT_STORAGE 1Gi     most bytes of durable results kept; oldest go first
      --result-max-age D FERRY_RESULT_MAX_AGE 7d      durable results older than this are removed
      --log-level L     FERRY_LOG_LEVEL   info        fatal|error|warn|info|debug|trace|silent
      --bundle B64      EDGE_BUNDLE       (none)      join the Ops hub as the edge this bundle names
      --workers N       FERRY_WORKERS     cores / 4   inferers on worker threads (1: in the main thread)
      --gateways N      FERRY_GATEWAYS    1           gateway processes behind one port (with
                                                      "start gateway --nats-url URL" only)
      --ops-port N      FERRY_OPS_PORT    8090        (ops) HTTP port of the Ops API
      --public-host H:P FERRY_PUBLIC_HOST 127.0.0.1:<ops-port>  (ops) how edges reach the Ops API
      --leaf-port N     FERRY_LEAF_PORT   7422        (ops) leaf node port edges link to
      --token-ttl D     FERRY_TOKEN_TTL   24h         (ops) a join token works this long
      --contact-ttl D   FERRY_CONTACT_TTL 7d          (ops) credentials lapse after this long unheard
  -h, --help                                          this text
`;

function optionalDuration(text: string | undefined): number {
  return text ? parseDuration(text) : 0;
}

function batchWindow(text: string | undefined): number | undefined {
  if (text === undefined || text === "" || text.toLowerCase() === "off") return undefined;
  const ms = Number(text);
  if (!Number.isFinite(ms) || ms < 0 || ms > 1000) throw new Error(`--batch-window must be off or 0..1000 ms, got ${JSON.stringify(text)}`);
  return ms;
}

function gatewayProcesses(n: number, services: readonly string[], natsUrl: string | undefined): number {
  if (n <= 1) return 1;
  if (services.length !== 1 || services[0] !== "gateway" || !natsUrl) {
    throw new Error("--gateways N runs gateway processes alone: `ferry start gateway --nats-url URL --gateways N`");
  }
  return n;
}

function onOff(name: string, value: string | undefined, fallback: boolean): boolean {
  if (value === undefined || value === "") return fallback;
  if (["on", "true", "1", "yes"].includes(value.toLowerCase())) return true;
  if (["off", "false", "0", "no"].includes(value.toLowerCase())) return false;
  throw new Error(`${name} must be on or off, got ${JSON.stringify(value)}`);
}

function num(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number, got ${JSON.stringify(value)}`);
  return n;
}

/** The flags `ferry` reads (each also has an environment variable; see `usage`). */
const flags = {
  port: { type: "string", short: "p" },
  host: { type: "string" },
  data: { type: "string", short: "d" },
  "nats-port": { type: "string" },
  "nats-host": { type: "string" },
  "nats-url": { type: "string" },
  "nats-auth": { type: "string" },
  "nats-name": { type: "string" },
  "cluster-port": { type: "string" },
  routes: { type: "string" },
  "start-wait": { type: "string" },
  pipeline: { type: "string", multiple: true },
  current: { type: "string" },
  "body-limit": { type: "string" },
  timeout: { type: "string" },
  threads: { type: "string" },
  "max-in-flight": { type: "string" },
  "max-pending": { type: "string" },
  "log-level": { type: "string" },
  partition: { type: "string" },
  "log-storage": { type: "string" },
  "log-max-age": { type: "string" },
  "log-drop-size": { type: "string" },
  replicas: { type: "string" },
  "log-records": { type: "string" },
  "batch-window": { type: "string" },
  "batch-max": { type: "string" },
  "max-deliveries": { type: "string" },
  "submit-storage": { type: "string" },
  "result-storage": { type: "string" },
  "result-max-age": { type: "string" },
  "set-current": { type: "boolean" },
  bundle: { type: "string" },
  workers: { type: "string" },
  gateways: { type: "string" },
  "ops-port": { type: "string" },
  "public-host": { type: "string" },
  "leaf-port": { type: "string" },
  "token-ttl": { type: "string" },
  "contact-ttl": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const satisfies ParseArgsConfig["options"];

/** Parses `ferry` arguments; returns undefined for --help. */
export function parseStart(argv: string[], env: NodeJS.ProcessEnv): { command: string | undefined; options: StartOptions } | undefined {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: flags });
  if (values.help) return undefined;
  const [command, ...rest] = positionals;
  const bundle = values.bundle ?? (env.EDGE_BUNDLE || undefined);
  const all = ["gateway", "inferer", "logger", "deployer", ...(bundle ? ["link"] : [])];
  const services = command !== "start" ? [] : rest.length === 0 ? all : rest;
  if (services.includes("ops") && services.length > 1) throw new Error("ops runs alone: `ferry start ops` (the hub has its own nats-server)");
  for (const s of services.filter((x) => x !== "ops" && x !== "nats")) {
    if (s === "link" && !bundle) throw new Error("the link service needs an EDGE_BUNDLE (--bundle)");
    if (!all.includes(s)) throw new Error(`unknown service ${JSON.stringify(s)} (nats, ${all.join(", ")})`);
  }
  const natsUrl = values["nats-url"] ?? (env.NATS_URL || undefined);
  if (services.includes("nats") && values["nats-url"]) throw new Error("`ferry start nats` spawns the server: leave out --nats-url");
  const clusterPort = num("--cluster-port", values["cluster-port"] ?? env.FERRY_CLUSTER_PORT, 0);
  const routes = (values.routes ?? env.FERRY_ROUTES ?? "").split(",").map((r) => r.trim()).filter(Boolean);
  if (routes.length > 0 && clusterPort === 0) throw new Error("--routes needs --cluster-port (the route port of this server)");
  if (clusterPort > 0 && routes.length === 0) throw new Error("--cluster-port needs --routes (the other servers of the cluster; JetStream will not cluster alone)");
  const envPipelines = env.FERRY_PIPELINES?.split(",").map((s) => s.trim()).filter(Boolean);
  return {
    command,
    options: {
      services: services as StartOptions["services"],
      port: num("--port", values.port ?? env.FERRY_PORT, 8080),
      host: values.host ?? env.FERRY_HOST ?? "0.0.0.0",
      data: resolve(values.data ?? env.FERRY_DATA ?? "./data"),
      natsPort: num("--nats-port", values["nats-port"] ?? env.FERRY_NATS_PORT, 4222),
      natsHost: values["nats-host"] ?? env.FERRY_NATS_HOST ?? "127.0.0.1",
      // With "nats" in the services the server is spawned here, whatever NATS_URL the environment has.
      natsUrl: services.includes("nats") ? undefined : natsUrl,
      natsAuth: natsAuthMode(values["nats-auth"] ?? env.FERRY_NATS_AUTH),
      natsSecret: natsSecret(env.FERRY_NATS_SECRET),
      natsName: values["nats-name"] ?? env.FERRY_NATS_NAME ?? "ferry",
      clusterPort,
      routes,
      startWaitMs: parseDuration(values["start-wait"] ?? env.FERRY_START_WAIT ?? "60s"),
      logLevel: values["log-level"] ?? env.FERRY_LOG_LEVEL ?? "info",
      // An edge serves what Ops publishes, not the demo.
      manifests: (values.pipeline ?? envPipelines ?? (bundle ? [] : demoManifests)).map((p) => resolve(p)),
      current: values.current ?? env.FERRY_CURRENT,
      bodyLimit: num("--body-limit", values["body-limit"] ?? env.FERRY_BODY_LIMIT, 16 * 1024 * 1024),
      timeoutMs: num("--timeout", values.timeout ?? env.FERRY_TIMEOUT_MS, 15_000),
      threads: num("--threads", values.threads ?? env.FERRY_THREADS, 1),
      maxInFlight: Math.max(1, num("--max-in-flight", values["max-in-flight"] ?? env.FERRY_MAX_IN_FLIGHT, 2)),
      maxPending: Math.max(1, num("--max-pending", values["max-pending"] ?? env.FERRY_MAX_PENDING, 4096)),
      partition: values.partition ?? env.FERRY_PARTITION ?? hostname(),
      logStorageBytes: parseSize(values["log-storage"] ?? env.LOCAL_INFERENCE_STORAGE ?? "10Gi"),
      logMaxAgeMs: optionalDuration(values["log-max-age"] ?? env.FERRY_LOG_MAX_AGE),
      logDropBytes: parseSize(values["log-drop-size"] ?? env.FERRY_LOG_DROP_SIZE ?? "100Ki"),
      replicas: num("--replicas", values.replicas ?? env.FERRY_REPLICAS, 1),
      logRecords: onOff("--log-records", values["log-records"] ?? env.FERRY_LOG_RECORDS, true),
      batchWindowMs: batchWindow(values["batch-window"] ?? env.FERRY_BATCH_WINDOW),
      batchMax: Math.max(1, num("--batch-max", values["batch-max"] ?? env.FERRY_BATCH_MAX, 64)),
      maxDeliveries: Math.max(1, num("--max-deliveries", values["max-deliveries"] ?? env.FERRY_MAX_DELIVERIES, 5)),
      submitStorageBytes: parseSize(values["submit-storage"] ?? env.FERRY_SUBMIT_STORAGE ?? "1Gi"),
      resultStorageBytes: parseSize(values["result-storage"] ?? env.FERRY_RESULT_STORAGE ?? "1Gi"),
      resultMaxAgeMs: parseDuration(values["result-max-age"] ?? env.FERRY_RESULT_MAX_AGE ?? "7d"),
      args: rest,
      setCurrent: values["set-current"] ?? false,
      workers: Math.max(1, num("--workers", values.workers ?? env.FERRY_WORKERS, defaultWorkers())),
      gateways: gatewayProcesses(num("--gateways", values.gateways ?? env.FERRY_GATEWAYS, 1), services, values["nats-url"] ?? env.NATS_URL),
      opsPort: num("--ops-port", values["ops-port"] ?? env.FERRY_OPS_PORT, 8090),
      publicHost: values["public-host"] ?? (env.FERRY_PUBLIC_HOST || undefined),
      leafPort: num("--leaf-port", values["leaf-port"] ?? env.FERRY_LEAF_PORT, 7422),
      tokenTtlMs: parseDuration(values["token-ttl"] ?? env.FERRY_TOKEN_TTL ?? "24h"),
      contactTtlMs: parseDuration(values["contact-ttl"] ?? env.FERRY_CONTACT_TTL ?? "7d"),
      ...(bundle ? { bundle } : {}),
    },
  };
}

function natsAuthMode(value: string | undefined): NatsAuthMode {
  const v = value ?? "auto";
  if (v === "auto" || v === "on" || v === "off") return v;
  throw new Error(`--nats-auth must be auto, on or off, got ${JSON.stringify(v)}`);
}
