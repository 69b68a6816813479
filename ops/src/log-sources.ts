import type { JetStreamManager } from "@nats-io/jetstream";
import { ensureStream, hubLogStreamConfig, type StorageSettings } from "@ferry/runtime";

/** Makes FERRY_LOGS_ALL source exactly these edges (records already synced stay); its definition is the topology's. */
export async function syncLogSources(jsm: JetStreamManager, edges: readonly string[], s: StorageSettings): Promise<void> {
  await ensureStream(jsm, hubLogStreamConfig(s, edges));
}
