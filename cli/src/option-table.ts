// Every option of `ferry`, once: flag, environment variable, default, parser, meaning, and which commands
// take it. The parser (command-line.ts), `--help` (usage.ts), docs/options.md (options-markdown.ts) and
// each command's options type (options.ts) are made from this table.
import { hostname } from "node:os";
import { DEFAULT_BODY_LIMIT, DEFAULT_CLIENT_TIMEOUTS } from "@ferry/gateway";
import { defaultDecoderThreads, defaultWorkers } from "@ferry/inferer";
import { defaultStorage } from "@ferry/runtime";
import { DefaultTokenTtlMs } from "@ferry/ops";
import { option } from "./option-spec.js";
import { apiToken, atLeastOne, batchWindow, duration, list, onOff, oneOf, path, port, presence, secret, size, syncInterval, text, tokenTtl, wholeNumber } from "./option-parsers.js";
import { demoManifests } from "./demo-manifests.js";
import { START_WAIT_MS } from "./start-wait.js";
import { parseDuration, parseSize } from "./units.js";

/** Who spawns a nats-server: a site (`ferry start`) and one server of a cluster (`ferry start nats`). */
const spawning = ["start", "start nats"] as const;
/** Commands that talk to a site's NATS server from its machine. */
const admin = ["deploy", "undeploy", "current"] as const;

/** The site, its nats-server and the commands beside them. */
const siteTable = {
  port: option({ flag: "port", short: "p", arg: "N", env: "FERRY_PORT", parser: port, default: 8080, help: "HTTP port of the gateway", commands: ["start"] }),
  grpcPort: option({
    flag: "grpc-port", arg: "N", env: "FERRY_GRPC_PORT", parser: port, shown: "off",
    help: "also serve the Open Inference Protocol's gRPC service (KServe V2) on this port of --host, with the gateway's TLS certificate when it has one", commands: ["start"],
  }),
  host: option({ flag: "host", arg: "ADDR", env: "FERRY_HOST", parser: text, default: "0.0.0.0", help: "HTTP listen address", commands: ["start", "start ops"] }),
  data: option({
    flag: "data", short: "d", arg: "DIR", env: "FERRY_DATA", parser: path, default: () => path.parse("./data"), shown: "./data",
    help: "the site's data folder (NATS store, caches, NATS users); for `ops token`, the hub's, where its own CA is found", commands: [...spawning, "start ops", ...admin, "nats-password", "device add", "device remove", "device list", "ops token create", "ops token list", "ops token revoke"],
  }),
  natsPort: option({
    flag: "nats-port", arg: "N", env: "FERRY_NATS_PORT", parser: port, default: 4222,
    help: "client port of the spawned nats-server (its URL is printed for devices); the local server `ferry deploy` talks to",
    commands: [...spawning, "start ops", ...admin],
  }),
  natsHost: option({ flag: "nats-host", arg: "ADDR", env: "FERRY_NATS_HOST", parser: text, default: "127.0.0.1", help: "listen address of the spawned nats-server", commands: [...spawning, "start ops"] }),
  natsUrl: option({
    flag: "nats-url", arg: "URL", env: "NATS_URL", parser: text, shown: "(spawn)",
    help: "connect to this NATS server instead of spawning one (credentials in the URL: `nats://user:pass@host:4222`)", commands: ["start", ...admin],
  }),
  natsSecret: option({
    env: "FERRY_NATS_SECRET", parser: secret,
    help: "site secret (16+ characters): the role users (and a cluster's route user) derive from it, on the spawned server and for every service given a NATS_URL without credentials",
    commands: [...spawning, ...admin, "nats-password"],
  }),
  natsSync: option({
    flag: "nats-sync", arg: "always|D", env: "FERRY_NATS_SYNC", parser: syncInterval, default: "always",
    help: "how often the spawned nats-server syncs JetStream writes to disk: `always` (each write before its ack; survives a power cut) or a duration (nats-server's own default is 2m)",
    commands: [...spawning, "start ops"],
  }),
  natsName: option({ flag: "nats-name", arg: "NAME", env: "FERRY_NATS_NAME", parser: text, default: "ferry", help: "name of the spawned nats-server (unique within a cluster)", commands: spawning }),
  clusterPort: option({
    flag: "cluster-port", arg: "N", env: "FERRY_CLUSTER_PORT", parser: port, default: 0, shown: "none",
    help: "the spawned server joins cluster `ferry`, routes on this port…", commands: spawning,
  }),
  routes: option({
    flag: "routes", arg: "URLS", env: "FERRY_ROUTES", parser: list(text), default: [],
    help: "…to these servers (`nats-route://host:6222,…`); `ferry start nats` runs only the server", commands: spawning,
  }),
  startWaitMs: option({
    flag: "start-wait", arg: "D", env: "FERRY_START_WAIT", parser: duration, default: START_WAIT_MS,
    help: "how long services wait at start for NATS and JetStream (a server still starting, a cluster still electing its leader) before giving up",
    commands: ["start"],
  }),
  bodyLimit: option({
    flag: "body-limit", arg: "N", env: "FERRY_BODY_LIMIT", parser: wholeNumber, default: DEFAULT_BODY_LIMIT,
    help: "largest request body in bytes (the spawned server's `max_payload` is raised to match: 4×, at most 64 MiB)", commands: spawning,
  }),
  replicas: option({
    flag: "replicas", arg: "N", env: "FERRY_REPLICAS", parser: wholeNumber, default: defaultStorage.replicas,
    help: "JetStream replicas of Ferry's streams (3 on a cluster)", commands: ["start", "start ops", ...admin],
  }),
  logLevel: option({
    flag: "log-level", arg: "L", env: "FERRY_LOG_LEVEL", parser: oneOf(["fatal", "error", "warn", "info", "debug", "trace", "silent"]), default: "info",
    help: "pino level: fatal, error, warn, info, debug, trace or silent", commands: [...spawning, "start ops"],
  }),
  tlsCert: option({
    flag: "tls-cert", arg: "FILE", env: "FERRY_TLS_CERT", parser: path, shown: "none (`start ops`: its own)",
    help: "certificate (PEM) to serve TLS with: the Ops API and hub nats-server (`start ops`), the gateway's HTTPS, the spawned nats-server when --nats-host is not loopback and its cluster routes",
    commands: [...spawning, "start ops"],
  }),
  tlsKey: option({ flag: "tls-key", arg: "FILE", env: "FERRY_TLS_KEY", parser: path, help: "private key (PEM) of --tls-cert", commands: [...spawning, "start ops"] }),
  tlsCa: option({
    flag: "tls-ca", arg: "FILE", env: "FERRY_TLS_CA", parser: path,
    help: "CA certificate (PEM) that signed --tls-cert: services, edges and cluster routes check certificates against it (required with --tls-cert for `start ops` and for NATS)",
    commands: [...spawning, "start ops"],
  }),
  setCurrent: option({ flag: "set-current", parser: presence, default: false, help: "also make the deployed pipeline the one behind `POST /infer`", commands: ["deploy"] }),
};

/** What the site's services do: pipelines, gateway, inferers, logs, durable inference, an edge's link. */
const serviceTable = {
  manifests: option({
    flag: "pipeline", arg: "FILE", env: "FERRY_PIPELINES", repeatable: true, parser: list(path),
    default: (given) => (given.bundle ? [] : demoManifests), shown: "the demo manifests (none with a bundle)",
    help: "deployment manifest to serve (repeatable; environment: comma-separated); published at start unless the same models are deployed",
    commands: ["start"],
  }),
  current: option({ flag: "current", arg: "NAME", env: "FERRY_CURRENT", parser: text, shown: "first manifest's", help: "the pipeline behind `POST /infer`", commands: ["start"] }),
  timeoutMs: option({ flag: "timeout", arg: "MS", env: "FERRY_TIMEOUT_MS", parser: wholeNumber, default: 15_000, help: "how long the gateway waits for an inferer, ms", commands: ["start"] }),
  threads: option({ flag: "threads", arg: "N", env: "FERRY_THREADS", parser: wholeNumber, default: 1, help: "onnxruntime intra-op threads per session (1 is fastest for small models)", commands: ["start"] }),
  maxInFlight: option({
    flag: "max-in-flight", arg: "N", env: "FERRY_MAX_IN_FLIGHT", parser: atLeastOne, default: 2,
    help: "NATS requests in flight per pipeline before the gateway coalesces the next ones (at most one per inferer answering the pipeline)", commands: ["start"],
  }),
  maxPending: option({
    flag: "max-pending", arg: "N", env: "FERRY_MAX_PENDING", parser: atLeastOne, default: 4096,
    help: "inference requests the gateway holds for the inferers at once (and 512 MiB of bodies); beyond, it sheds load: 503 `overloaded` with `Retry-After: 1`, before reading the body",
    commands: ["start"],
  }),
  bodyTimeoutMs: option({
    flag: "body-timeout", arg: "D", env: "FERRY_BODY_TIMEOUT", parser: duration, default: DEFAULT_CLIENT_TIMEOUTS.bodyTimeoutMs,
    help: "a request's headers and whole body must arrive within this (headers within 10s); a slower client gets 408 `request_timeout` and its connection is closed. Requests hold no `--max-pending` slot until their body is in",
    commands: ["start"],
  }),
  keepAliveTimeoutMs: option({
    flag: "keep-alive-timeout", arg: "D", env: "FERRY_KEEP_ALIVE_TIMEOUT", parser: duration, default: DEFAULT_CLIENT_TIMEOUTS.keepAliveTimeoutMs,
    help: "idle keep-alive HTTP connections are closed after this", commands: ["start"],
  }),
  partition: option({
    flag: "partition", arg: "NAME", env: "FERRY_PARTITION", parser: text, default: () => hostname(), shown: "host name",
    help: "the site's name in log records (metadata.partition)", commands: ["start"],
  }),
  logStorageBytes: option({
    flag: "log-storage", arg: "S", env: "LOCAL_INFERENCE_STORAGE", parser: size, default: defaultStorage.logMaxBytes,
    help: "most bytes of logs kept (Ki/Mi/Gi); the oldest go first (`ferry start ops`: of every edge's logs)", commands: ["start", "start ops"],
  }),
  logMaxAgeMs: option({
    flag: "log-max-age", arg: "D", env: "FERRY_LOG_MAX_AGE", parser: duration, default: defaultStorage.logMaxAgeMs, shown: "none",
    help: "drop log records older than this (`30d`, `12h`)", commands: ["start", "start ops"],
  }),
  logDropBytes: option({ flag: "log-drop-size", arg: "S", env: "FERRY_LOG_DROP_SIZE", parser: size, default: parseSize("100Ki"), help: "inputs larger than this are left out of log records", commands: ["start"] }),
  logRecords: option({ flag: "log-records", arg: "on|off", env: "FERRY_LOG_RECORDS", parser: onOff, default: true, help: "write log records at all (one per inferred row)", commands: ["start"] }),
  logAck: option({
    flag: "log-ack", arg: "sync|async", env: "FERRY_LOG_ACK", parser: oneOf(["sync", "async"]), default: "sync",
    help: "sync: a reply goes once its log records are stored (no answered inference without its record); async: at once, and a crash of Ferry can lose the records of the last ~50 ms",
    commands: ["start"],
  }),
  batchWindowMs: option({
    flag: "batch-window", arg: "MS", env: "FERRY_BATCH_WINDOW", parser: batchWindow, shown: "off",
    help: "merge concurrent requests to a pipeline into one run within this window (manifests may override)", commands: ["start"],
  }),
  batchMax: option({ flag: "batch-max", arg: "N", env: "FERRY_BATCH_MAX", parser: atLeastOne, default: 64, help: "most requests merged into one run", commands: ["start"] }),
  maxDeliveries: option({
    flag: "max-deliveries", arg: "N", env: "FERRY_MAX_DELIVERIES", parser: atLeastOne, default: 5,
    help: "deliveries of a durable request before it gets a `delivery_limit` result", commands: ["start"],
  }),
  submitStorageBytes: option({
    flag: "submit-storage", arg: "S", env: "FERRY_SUBMIT_STORAGE", parser: size, default: defaultStorage.requestMaxBytes,
    help: "most bytes of durable requests waiting; then submissions are refused", commands: ["start"],
  }),
  resultStorageBytes: option({
    flag: "result-storage", arg: "S", env: "FERRY_RESULT_STORAGE", parser: size, default: defaultStorage.resultMaxBytes,
    help: "most bytes of durable results kept; the oldest go first", commands: ["start"],
  }),
  resultMaxAgeMs: option({
    flag: "result-max-age", arg: "D", env: "FERRY_RESULT_MAX_AGE", parser: duration, default: defaultStorage.resultMaxAgeMs,
    help: "durable results older than this are removed", commands: ["start"],
  }),
  workers: option({
    flag: "workers", arg: "N", env: "FERRY_WORKERS", parser: atLeastOne, default: () => defaultWorkers(), shown: "cores ÷ 4 (at least 1)",
    help: "inferers on worker threads, each with its own NATS connection (1: in the main thread)", commands: ["start"],
  }),
  decoderThreads: option({
    flag: "decoder-threads", arg: "N", env: "FERRY_DECODER_THREADS", parser: atLeastOne, default: () => defaultDecoderThreads(), shown: "cores ÷ 2, 2 to 4",
    help: "threads per inferer that decode Arrow bodies, one body each at a time: a hostile body holds one of them for at most --decode-timeout while the others decode everyone else's",
    commands: ["start"],
  }),
  decodeTimeoutMs: option({
    flag: "decode-timeout", arg: "D", env: "FERRY_DECODE_TIMEOUT", parser: duration, default: 3000,
    help: "an Arrow body still decoding after this long gets 400 `bad_arrow` and its thread is replaced", commands: ["start"],
  }),
  gateways: option({
    flag: "gateways", arg: "N", env: "FERRY_GATEWAYS", parser: wholeNumber, default: 1,
    help: "gateway processes behind one port (node:cluster), for `ferry start gateway --nats-url URL` only", commands: ["start"],
  }),
  bundle: option({
    flag: "bundle", arg: "B64", env: "EDGE_BUNDLE", parser: text,
    help: "join the Ops hub as the edge this bundle names (docs/ops-hub.md); the link service runs only with one", commands: ["start"],
  }),
};

/** The Ops hub (`ferry start ops`); its nats-server also reads --nats-port and --nats-host. */
const hubTable = {
  opsPort: option({ flag: "ops-port", arg: "N", env: "FERRY_OPS_PORT", parser: port, default: 8090, help: "HTTP port of the Ops API", commands: ["start ops"] }),
  publicHost: option({
    flag: "public-host", arg: "H:P", env: "FERRY_PUBLIC_HOST", parser: text, shown: "127.0.0.1:<ops-port>",
    help: "how edges reach the Ops API (`host:port`, written into their bundles)", commands: ["start ops"],
  }),
  leafPort: option({ flag: "leaf-port", arg: "N", env: "FERRY_LEAF_PORT", parser: port, default: 7422, help: "leaf node port edges link to", commands: ["start ops"] }),
  tokenTtlMs: option({ flag: "token-ttl", arg: "D", env: "FERRY_TOKEN_TTL", parser: duration, default: parseDuration("24h"), help: "a join token works this long", commands: ["start ops"] }),
  contactTtlMs: option({
    flag: "contact-ttl", arg: "D", env: "FERRY_CONTACT_TTL", parser: duration, default: parseDuration("7d"),
    help: "an edge's credentials lapse after this long unheard", commands: ["start ops"],
  }),
};

/** Who may call the Ops API: its first admin token and OpenID Connect (`ferry start ops`). */
const hubAuthTable = {
  adminToken: option({
    env: "FERRY_OPS_ADMIN_TOKEN", parser: apiToken,
    help: "an admin token for the Ops API that you chose (`ferry_` and 43+ base64url characters); the hub stores its sha256 and prints no token at its first start",
    commands: ["start ops"],
  }),
  oidcIssuer: option({
    flag: "oidc-issuer", arg: "URL", env: "FERRY_OIDC_ISSUER", parser: text, shown: "off",
    help: "also take JWT bearer tokens (RS256, ES256) from this OpenID Connect issuer (their `iss`); needs --oidc-audience and --oidc-jwks",
    commands: ["start ops"],
  }),
  oidcAudience: option({ flag: "oidc-audience", arg: "AUD", env: "FERRY_OIDC_AUDIENCE", parser: text, help: "the `aud` JWTs must carry", commands: ["start ops"] }),
  oidcJwks: option({
    flag: "oidc-jwks", arg: "URL|FILE", env: "FERRY_OIDC_JWKS", parser: text,
    help: "the issuer's signing keys: its JWKS URL (fetched and cached) or a JWKS file", commands: ["start ops"],
  }),
  oidcRoleClaim: option({
    flag: "oidc-role-claim", arg: "CLAIM", env: "FERRY_OIDC_ROLE_CLAIM", parser: text, default: "ferry_role",
    help: "the JWT claim naming the caller's role (admin, publisher or viewer, or an array of them: the strongest counts); a dotted path reaches into objects",
    commands: ["start ops"],
  }),
};

/** `ferry ops token …`: managing Ops API tokens through the Ops API. */
const opsTokenTable = {
  opsUrl: option({
    flag: "ops-url", arg: "URL", env: "FERRY_OPS_URL", parser: text, default: "https://127.0.0.1:8090",
    help: "the Ops API", commands: ["ops token create", "ops token list", "ops token revoke"],
  }),
  opsCa: option({
    flag: "ops-ca", arg: "FILE", env: "FERRY_OPS_CA", parser: text, shown: "the hub's own CA under --data, else the system's CAs",
    help: "the CA (PEM) the Ops API's certificate is checked against", commands: ["ops token create", "ops token list", "ops token revoke"],
  }),

  opsToken: option({
    flag: "token", arg: "TOKEN", env: "FERRY_OPS_TOKEN", parser: text,
    help: "an admin token of the Ops API (prefer the environment variable: a flag shows in `ps`)", commands: ["ops token create", "ops token list", "ops token revoke"],
  }),
  role: option({ flag: "role", arg: "ROLE", parser: oneOf(["admin", "publisher", "viewer"]), help: "the new token's role: admin, publisher or viewer", commands: ["ops token create"] }),
  tokenName: option({ flag: "name", arg: "NAME", parser: text, default: "", shown: "none", help: "what the token is for (listed; not secret)", commands: ["ops token create"] }),
  ttlMs: option({
    flag: "ttl", arg: "D|never", parser: tokenTtl, default: DefaultTokenTtlMs,
    help: "the token expires after this long (`30d`, `12h`); `never` (or 0) only when asked for", commands: ["ops token create"],
  }),
};

/** `ferry logs`: reading a site's inference logs through its HTTP API. */
const logsTable = {
  url: option({ flag: "url", arg: "URL", env: "FERRY_URL", parser: text, default: "http://localhost:8080", help: "the site's gateway", commands: ["logs"] }),
  pipeline: option({ flag: "pipeline", arg: "NAME", parser: text, shown: "all", help: "only this pipeline's records", commands: ["logs"] }),
  startTime: option({ flag: "start", arg: "TIME", parser: text, help: "oldest record's time (RFC 3339 or ms since the epoch)", commands: ["logs"] }),
  endTime: option({ flag: "end", arg: "TIME", parser: text, help: "newest record's time (RFC 3339 or ms since the epoch)", commands: ["logs"] }),
  order: option({ flag: "order", arg: "asc|desc", parser: oneOf(["asc", "desc"]), default: "asc", help: "oldest or newest first (asc: from --start, or the whole store)", commands: ["logs"] }),
  limit: option({ flag: "limit", arg: "N", parser: wholeNumber, shown: "all", help: "stop after N records", commands: ["logs"] }),
  pageSize: option({ flag: "page-size", arg: "N", parser: atLeastOne, default: 1000, help: "records per request", commands: ["logs"] }),
  out: option({
    flag: "out", arg: "FILE", parser: text, shown: "stdout",
    help: "write FILE.json (pandas-records) or FILE.arrow (Arrow IPC) with a progress bar; without it, records print to stdout, one JSON object a line",
    commands: ["logs"],
  }),
};

/** `ferry tls init`: certificates for a cluster's servers (compose.yaml's `certs` service). */
const tlsInitTable = {
  tlsOut: option({
    flag: "out", arg: "DIR", env: "FERRY_TLS_DIR", parser: path, default: () => path.parse("./tls"), shown: "./tls",
    help: "where ca.pem, server.pem and server-key.pem go (0600): each nats-server takes all three (FERRY_TLS_CA, FERRY_TLS_CERT, FERRY_TLS_KEY), clients ca.pem (FERRY_NATS_CA)",
    commands: ["tls init"],
  }),
  tlsHosts: option({
    flag: "hosts", arg: "NAMES", env: "FERRY_TLS_HOSTS", parser: list(text), default: ["localhost", "127.0.0.1", "::1"],
    help: "host names and IP addresses the server certificate names: every name clients and routes use to reach any server (`nats-1,nats-2,nats-3,localhost`)",
    commands: ["tls init"],
  }),
  tlsCaDir: option({
    flag: "ca-dir", arg: "DIR", env: "FERRY_TLS_CA_DIR", parser: path, shown: "the --out folder",
    help: "where the CA and its key are kept (0600; a second run keeps the CA and makes the server certificate again when the hosts change): keep it apart from --out so servers and clients never see the CA's key",
    commands: ["tls init"],
  }),
};

/** The table, in the order help and docs list it. */
export const optionTable = { ...siteTable, ...serviceTable, ...hubTable, ...hubAuthTable, ...opsTokenTable, ...tlsInitTable, ...logsTable };
