import { DiscardPolicy, RetentionPolicy, StorageType, type JetStreamManager, type StreamConfig, type StreamInfo } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { LogStream, Subjects } from "@ferry/contracts";

/** Bounds of the local log store (Wallaroo's LOCAL_INFERENCE_STORAGE). */
export interface LogStorage {
  /** Most bytes kept; the oldest records go first when full. */
  maxBytes: number;
  /** Records older than this are removed, ms; 0 keeps them until space runs out. */
  maxAgeMs: number;
  /** Stream replicas (1 on one server; 3 on a cluster). */
  replicas: number;
}

/** The FERRY_LOGS stream's configuration for these bounds. */
export function logStreamConfig(s: LogStorage): Partial<StreamConfig> & { name: string } {
  return {
    name: LogStream,
    subjects: [`${Subjects.logPrefix}>`],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_bytes: s.maxBytes,
    max_age: nanos(s.maxAgeMs),
    num_replicas: s.replicas,
    // Inferers retry unacknowledged publishes with the same message id: stored once.
    duplicate_window: nanos(2 * 60_000),
  };
}

/** Creates FERRY_LOGS, or updates its bounds when it exists (idempotent). */
export async function ensureLogStream(jsm: JetStreamManager, s: LogStorage): Promise<StreamInfo> {
  const config = logStreamConfig(s);
  try {
    const info = await jsm.streams.info(LogStream);
    const c = info.config;
    if (c.max_bytes === config.max_bytes && c.max_age === config.max_age && c.num_replicas === config.num_replicas
      && c.subjects.join() === config.subjects!.join() && c.duplicate_window === config.duplicate_window) return info;
    return await jsm.streams.update(LogStream, { ...c, ...config });
  } catch (err) {
    if ((err as { code?: unknown }).code !== 404 && !/stream not found/i.test((err as Error).message)) throw err;
    return jsm.streams.add(config);
  }
}

/** Messages (record batches) pruned from the front of the stream (by size or age) since it was created. */
export function prunedCount(info: StreamInfo): number {
  return Math.max(0, info.state.first_seq - 1);
}
