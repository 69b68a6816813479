/** NATS subjects, queue groups and stream names shared by every Ferry service. */
export const Subjects = {
  /** Request/reply: the site's current pipeline (`POST /infer`). */
  infer: "ferry.infer",
  /** Prefix of request/reply subjects for a named pipeline (`POST /pipelines/<name>`). */
  inferPrefix: "ferry.infer.",
  /** Request/reply, every inferer answers: what `/pipelines` and `/models` report. */
  status: "ferry.status",
  /** Request/reply: pages of inference log records (`POST /logs`). */
  logsQuery: "ferry.logs.query",
  /** Prefix of the subjects that inference log records are published to. */
  logPrefix: "ferry.log.",
  /** Request/reply: publish a manifest whose models are in the object store (body: the manifest). */
  deploy: "ferry.deploy",
  /** Request/reply: remove a pipeline (body: `{"pipeline": name}`). */
  undeploy: "ferry.undeploy",
  /** Request/reply: set the site's current pipeline (body: `{"pipeline": name}`). */
  setCurrent: "ferry.current",
  /** Prefix of durable (asynchronous) inference requests: `ferry.submit.<pipeline>.<device>`, kept in FERRY_REQUESTS. */
  submitPrefix: "ferry.submit.",
  /** Prefix of durable inference results: `ferry.result.<pipeline>.<device>.<request id>`, kept in FERRY_RESULTS. */
  resultPrefix: "ferry.result.",
  /** Prefix of heartbeats an edge sends the Ops hub over its leaf link: `ferry.ops.heartbeat.<edge>` (request/reply). */
  heartbeatPrefix: "ferry.ops.heartbeat.",
  /** Request/reply on a site: the state of its link to the Ops hub (answered by the link service). */
  linkStatus: "ferry.link.status",
  /** Request/reply, every inferer and logger answers: its metrics in Prometheus text format (`GET /metrics` gathers them). */
  metrics: "ferry.metrics",
  /** Request/reply, every gateway answers: its inference traffic of the last minute (`GET /ui/stats` sums them). */
  gatewayTraffic: "ferry.gateway.traffic",
} as const;

/** The Ops hub's JetStream domain. */
export const HubDomain = "hub";

/** The hub's stream that sources every joined edge's FERRY_LOGS. */
export const HubLogStream = "FERRY_LOGS_ALL";

/**
 * Subjects an edge's leaf link neither imports nor exports: each site keeps its own inference, status,
 * logs and stores (JetStream reaches across only through `$JS.<domain>.API`), and only heartbeats and
 * JetStream traffic cross. Metrics, gateway traffic and service discovery (`$SRV`) stay per site too, so
 * a site's `/metrics`, `/ui/stats` and `$SRV.PING` never count another site's services.
 */
export const LeafDenied = [
  "ferry.infer", "ferry.infer.>", "ferry.status", "ferry.logs.>", "ferry.log.>", "ferry.deploy", "ferry.undeploy", "ferry.current",
  "ferry.submit.>", "ferry.result.>", "ferry.link.>", "ferry.metrics", "ferry.gateway.>", "$SRV.>", "$KV.>", "$O.>",
] as const;

/** JetStream KV buckets and object stores. */
export const Buckets = {
  /** KV: pipeline name → deployed manifest (JSON); inferers watch it and swap in place. */
  deployments: "ferry-deployments",
  /** Object store: model files, named by their sha256. */
  models: "ferry-models",
  /** KV: site-wide settings (`current`: the pipeline behind `POST /infer`). */
  site: "ferry-site",
  /** KV on the Ops hub: edge name → its record (state, join token hash, NATS user). */
  edges: "ferry-ops-edges",
  /** KV on the Ops hub: sha256 of an Ops API token → its record (id, role, name, times); never the token. */
  opsTokens: "ferry-ops-tokens",
} as const;

/** Keys of the site bucket. */
export const SiteKeys = {
  current: "current",
} as const;

/** Queue group shared by all inferers, so each request is answered once. */
export const InfererQueue = "ferry-inferers";

/** Queue group of loggers: each log query is answered once. */
export const LoggerQueue = "ferry-loggers";

/** Queue group of deployers: each deployment request is handled once. */
export const DeployerQueue = "ferry-deployers";

/** JetStream stream holding one inference record per input row. */
export const LogStream = "FERRY_LOGS";

/** JetStream stream (work-queue retention) holding durable inference requests until an inferer takes them. */
export const RequestStream = "FERRY_REQUESTS";

/** JetStream stream (limits retention) holding durable inference results for devices to read. */
export const ResultStream = "FERRY_RESULTS";

/**
 * The device name of the shared `device` NATS user. Its durable requests may also use the old subject
 * `ferry.submit.<pipeline>` (no device token); their results are `ferry.result.<pipeline>.device.<id>`.
 */
export const SharedDevice = "device";

/**
 * Subject that a device's durable requests for a pipeline are published to: `ferry.submit.<pipeline>.<device>`
 * (a device user may publish only with its own name there); without a device, the shared user's old form.
 */
export function submitSubject(pipeline: string, device?: string): string {
  return Subjects.submitPrefix + pipeline + (device === undefined ? "" : `.${device}`);
}

/**
 * Subject of the result of a durable request: `ferry.result.<pipeline>.<device>.<id>`, so a device user's
 * permissions can hold it to its own (`requestId` must be a subject token: see {@link isSubjectToken}).
 */
export function resultSubject(pipeline: string, requestId: string, device: string = SharedDevice): string {
  return `${Subjects.resultPrefix}${pipeline}.${device}.${requestId}`;
}

/** The device that published a durable request, from its subject (the old form's is the shared device). */
export function submitDevice(subject: string): string {
  const tokens = subject.split(".");
  return tokens.length === 4 ? tokens[3]! : SharedDevice;
}

/** Name of the durable JetStream consumer through which all inferers share a pipeline's durable requests. */
export function submitConsumer(pipeline: string): string {
  return `ferry-submit-${pipeline}`;
}

/** Subject of the named pipeline's inference requests. */
export function inferSubject(pipeline: string): string {
  return Subjects.inferPrefix + pipeline;
}

/** Subject that a pipeline's log records are published to: `ferry.log.<pipeline>.<partition>`. */
export function logSubject(pipeline: string, partition: string): string {
  return `${Subjects.logPrefix}${pipeline}.${partitionToken(partition)}`;
}

/** Filter of the log records of a pipeline and/or partition (either may be absent). */
export function logFilter(pipeline?: string, partition?: string): string {
  return `${Subjects.logPrefix}${pipeline ?? "*"}.${partition === undefined ? "*" : partitionToken(partition)}`;
}

/** A partition (site) name as one subject token: characters a token cannot hold become `_`. */
export function partitionToken(partition: string): string {
  return partition.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 128) || "_";
}

/** Subject of an edge's heartbeat to the Ops hub. */
export function heartbeatSubject(edge: string): string {
  return Subjects.heartbeatPrefix + edge;
}

/**
 * Whether `name` can be one NATS subject token: pipeline and model names become subject tokens,
 * so dots, wildcards and white space are refused.
 */
export function isSubjectToken(name: string): boolean {
  return /^[A-Za-z0-9_-]{1,128}$/.test(name);
}
