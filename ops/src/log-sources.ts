import { DiscardPolicy, RetentionPolicy, StorageType, type JetStreamManager, type StreamConfig, type StreamSource } from "@nats-io/jetstream";
import { HubLogStream, LogStream } from "@ferry/contracts";
import { ensureStream } from "@ferry/runtime";

/** Bounds of the hub's log store. */
export interface HubLogStorage {
  maxBytes: number;
  /** 0: no age limit. */
  maxAgeMs: number;
  replicas: number;
}

/** One edge's FERRY_LOGS, reached through its JetStream domain across the leaf link. */
export function edgeLogSource(edge: string): StreamSource {
  return { name: LogStream, external: { api: `$JS.${edge}.API`, deliver: "" } };
}

/**
 * FERRY_LOGS_ALL: no subjects of its own, one source per joined edge. JetStream keeps each source's
 * position, so records written while an edge was offline arrive once, in order, when its link returns.
 */
export function hubLogStreamConfig(edges: readonly string[], s: HubLogStorage): Partial<StreamConfig> & { name: string } {
  return {
    name: HubLogStream,
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_bytes: s.maxBytes,
    max_age: s.maxAgeMs * 1_000_000,
    num_replicas: s.replicas,
    sources: [...edges].sort().map(edgeLogSource),
  };
}

/** Makes FERRY_LOGS_ALL source exactly these edges (records already synced stay). */
export async function syncLogSources(jsm: JetStreamManager, edges: readonly string[], s: HubLogStorage): Promise<void> {
  await ensureStream(jsm, hubLogStreamConfig(edges, s));
}
