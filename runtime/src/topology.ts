/**
 * The topology: one definition of every JetStream stream, KV bucket and object store Ferry uses, built
 * from one storage-settings type. `provision` (run by `ferry start` as admin, and by the test helpers)
 * creates or updates them; services only open them (see stores.ts), so they need no create rights and
 * no service decides another's replication by starting first.
 */
import {
  DiscardPolicy, RetentionPolicy, StorageType, StoreCompression, type StreamConfig, type StreamSource,
} from "@nats-io/jetstream";
import { Buckets, HubLogStream, LogStream, RequestStream, ResultStream, Subjects } from "@ferry/contracts";

const NS_PER_MS = 1_000_000;

/** Every bound of a site's (or hub's) storage; `defaultStorage` gives the defaults. */
export interface StorageSettings {
  /** Copies of every stream and bucket: 1 on one server, 3 on a cluster. */
  replicas: number;
  /** FERRY_LOGS (FERRY_LOGS_ALL on the hub): most bytes kept, the oldest go first (LOCAL_INFERENCE_STORAGE). */
  logMaxBytes: number;
  /** FERRY_LOGS: records older than this are removed, ms; 0 keeps them until space runs out. */
  logMaxAgeMs: number;
  /** FERRY_REQUESTS: most bytes of requests waiting for an inferer; a full queue refuses submissions. */
  requestMaxBytes: number;
  /** FERRY_RESULTS: most bytes of results kept; the oldest go first. */
  resultMaxBytes: number;
  /** FERRY_RESULTS: results older than this are removed, ms. */
  resultMaxAgeMs: number;
  /** Durable submissions with the same `Nats-Msg-Id` within this window are stored once, ms. */
  dedupWindowMs: number;
}

/** The defaults, in one place. */
export const defaultStorage: Readonly<StorageSettings> = {
  replicas: 1,
  logMaxBytes: 10 * 1024 ** 3,
  logMaxAgeMs: 0,
  requestMaxBytes: 2 ** 30,
  resultMaxBytes: 2 ** 30,
  resultMaxAgeMs: 7 * 24 * 3_600_000,
  dedupWindowMs: 10 * 60_000,
};

/** Settings with the defaults filled in. */
export function storageSettings(s: Partial<StorageSettings> = {}): StorageSettings {
  const out = { ...defaultStorage };
  for (const [k, v] of Object.entries(s)) if (v !== undefined) (out as Record<string, number>)[k] = v;
  return out;
}

export type StreamDefinition = Partial<StreamConfig> & { name: string };

/** One asset: a stream, a KV bucket or an object store, with everything needed to create it. */
export type Asset =
  | { kind: "stream"; config: StreamDefinition }
  | { kind: "kv"; name: string; history: number; replicas: number }
  | { kind: "objects"; name: string; replicas: number };

/**
 * A file stream that drops its oldest messages when it is full or they are too old (0: no age limit),
 * S2-compressed: JSON records and results shrink several times over, so a site's storage bound keeps
 * that many times more of them (an existing stream is switched by provisioning; new blocks compress).
 */
function bounded(name: string, replicas: number, maxBytes: number, maxAgeMs: number): StreamDefinition {
  return {
    name,
    storage: StorageType.File,
    compression: StoreCompression.S2,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_bytes: maxBytes,
    max_age: maxAgeMs * NS_PER_MS,
    num_replicas: replicas,
  };
}

/** FERRY_LOGS: every inference record of the site, oldest dropped first when full. */
export function logStreamConfig(s: StorageSettings): StreamDefinition {
  return {
    ...bounded(LogStream, s.replicas, s.logMaxBytes, s.logMaxAgeMs),
    subjects: [`${Subjects.logPrefix}>`],
    // Inferers retry unacknowledged publishes with the same message id: stored once.
    duplicate_window: 2 * 60_000 * NS_PER_MS,
  };
}

/** FERRY_REQUESTS: work-queue retention, so a request is removed once an inferer acknowledges it. */
export function requestStreamConfig(s: StorageSettings): StreamDefinition {
  return {
    name: RequestStream,
    subjects: [`${Subjects.submitPrefix}>`],
    storage: StorageType.File,
    retention: RetentionPolicy.Workqueue,
    // A full queue refuses new submissions rather than dropping accepted ones.
    discard: DiscardPolicy.New,
    max_bytes: s.requestMaxBytes,
    num_replicas: s.replicas,
    duplicate_window: s.dedupWindowMs * NS_PER_MS,
  };
}

/** FERRY_RESULTS: one message per request id (a late duplicate replaces, never adds), read by direct get. */
export function resultStreamConfig(s: StorageSettings): StreamDefinition {
  return {
    ...bounded(ResultStream, s.replicas, s.resultMaxBytes, s.resultMaxAgeMs),
    subjects: [`${Subjects.resultPrefix}>`],
    max_msgs_per_subject: 1,
    duplicate_window: Math.min(s.dedupWindowMs, s.resultMaxAgeMs) * NS_PER_MS,
    allow_direct: true,
  };
}

/** One edge's FERRY_LOGS, reached through its JetStream domain across the leaf link. */
export function edgeLogSource(edge: string): StreamSource {
  return { name: LogStream, external: { api: `$JS.${edge}.API`, deliver: "" } };
}

/**
 * FERRY_LOGS_ALL: no subjects of its own, one source per joined edge. JetStream keeps each source's
 * position, so records written while an edge was offline arrive once, in order, when its link returns.
 */
export function hubLogStreamConfig(s: StorageSettings, edges?: readonly string[]): StreamDefinition {
  return {
    ...bounded(HubLogStream, s.replicas, s.logMaxBytes, s.logMaxAgeMs),
    // Without `edges` the sources are left as they are (provisioning again keeps joined edges).
    ...(edges ? { sources: [...edges].sort().map(edgeLogSource) } : {}),
  };
}

/** The stores a deployment lives in: the site's (and, on the hub, what Ops publishes). */
function deploymentAssets(s: StorageSettings): Asset[] {
  return [
    { kind: "kv", name: Buckets.deployments, history: 5, replicas: s.replicas },
    { kind: "kv", name: Buckets.site, history: 5, replicas: s.replicas },
    { kind: "objects", name: Buckets.models, replicas: s.replicas },
  ];
}

/** Everything a site uses: its logs, the durable request and result streams, its deployment stores. */
export function siteAssets(s: StorageSettings): Asset[] {
  return [
    { kind: "stream", config: logStreamConfig(s) },
    { kind: "stream", config: requestStreamConfig(s) },
    { kind: "stream", config: resultStreamConfig(s) },
    ...deploymentAssets(s),
  ];
}

/**
 * Everything the Ops hub uses: what it publishes (deployments, models), its edge registry and
 * FERRY_LOGS_ALL. Edges' log sources are added by Ops as edges join (`hubLogStreamConfig(s, edges)`);
 * provisioning again keeps them.
 */
export function hubAssets(s: StorageSettings): Asset[] {
  return [
    ...deploymentAssets(s),
    { kind: "kv", name: Buckets.edges, history: 1, replicas: s.replicas },
    { kind: "kv", name: Buckets.opsTokens, history: 1, replicas: s.replicas },
    { kind: "stream", config: hubLogStreamConfig(s) },
  ];
}

/** The JetStream stream behind an asset (KV buckets and object stores are streams too). */
export function streamNameOf(a: Asset): string {
  if (a.kind === "stream") return a.config.name;
  return a.kind === "kv" ? `KV_${a.name}` : `OBJ_${a.name}`;
}
