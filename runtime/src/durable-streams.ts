import {
  DiscardPolicy, RetentionPolicy, StorageType, type JetStreamManager, type StreamConfig, type StreamInfo,
} from "@nats-io/jetstream";
import { RequestStream, ResultStream, Subjects } from "@ferry/contracts";

const NS_PER_MS = 1_000_000;

/** Bounds of the durable inference streams. */
export interface DurableStorage {
  /** Most bytes of requests waiting for an inferer; a full queue refuses new submissions. Default 1 GiB. */
  requestMaxBytes?: number;
  /** Most bytes of results kept; the oldest go first. Default 1 GiB. */
  resultMaxBytes?: number;
  /** Results older than this are removed, ms. Default 7 days. */
  resultMaxAgeMs?: number;
  /** Submissions with the same `Nats-Msg-Id` within this window are stored once, ms. Default 10 minutes. */
  dedupWindowMs?: number;
  /** Stream replicas (1 on one server; 3 on a cluster). Default 1. */
  replicas?: number;
}

type Config = Partial<StreamConfig> & { name: string };

/** FERRY_REQUESTS: work-queue retention, so a request is removed once an inferer acknowledges it. */
export function requestStreamConfig(s: DurableStorage = {}): Config {
  return {
    name: RequestStream,
    subjects: [`${Subjects.submitPrefix}>`],
    storage: StorageType.File,
    retention: RetentionPolicy.Workqueue,
    discard: DiscardPolicy.New,
    max_bytes: s.requestMaxBytes ?? 2 ** 30,
    num_replicas: s.replicas ?? 1,
    duplicate_window: (s.dedupWindowMs ?? 10 * 60_000) * NS_PER_MS,
  };
}

/** FERRY_RESULTS: limits retention, one message per request id (a late duplicate replaces, never adds). */
export function resultStreamConfig(s: DurableStorage = {}): Config {
  const maxAgeMs = s.resultMaxAgeMs ?? 7 * 24 * 3_600_000;
  return {
    name: ResultStream,
    subjects: [`${Subjects.resultPrefix}>`],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_bytes: s.resultMaxBytes ?? 2 ** 30,
    max_age: maxAgeMs * NS_PER_MS,
    max_msgs_per_subject: 1,
    num_replicas: s.replicas ?? 1,
    duplicate_window: Math.min(s.dedupWindowMs ?? 10 * 60_000, maxAgeMs) * NS_PER_MS,
    allow_direct: true,
  };
}

/** Creates a stream, or updates it where its configuration differs (idempotent; safe from several services at once). */
export async function ensureStream(jsm: JetStreamManager, config: Config): Promise<StreamInfo> {
  try {
    const info = await jsm.streams.info(config.name);
    const differs = Object.entries(config).some(([k, v]) => JSON.stringify(info.config[k as keyof StreamConfig]) !== JSON.stringify(v));
    return differs ? await jsm.streams.update(config.name, { ...info.config, ...config }) : info;
  } catch (err) {
    if (!isNotFound(err)) throw err;
    try {
      return await jsm.streams.add(config);
    } catch (addErr) {
      // Another service created it in between.
      if (/already in use|already exists/i.test((addErr as Error).message)) return jsm.streams.info(config.name);
      throw addErr;
    }
  }
}

/** Creates or updates FERRY_REQUESTS and FERRY_RESULTS. */
export async function ensureDurableStreams(jsm: JetStreamManager, s: DurableStorage = {}): Promise<void> {
  await Promise.all([ensureStream(jsm, requestStreamConfig(s)), ensureStream(jsm, resultStreamConfig(s))]);
}

function isNotFound(err: unknown): boolean {
  return (err as { code?: unknown }).code === 404 || /stream not found/i.test((err as Error).message);
}
