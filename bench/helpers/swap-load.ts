// Helpers of bench/swap.ts: an autocannon run that keeps when each reply came (so latencies can be
// placed against publish times), the bench's own event-loop delay, and a back-to-back version poller.
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import autocannon from "autocannon";
import { cpuWindow, type HttpRun } from "./load.js";
import type { Proc } from "./procs.js";
import { summarize, type Latency } from "./stats.js";

/** One 2xx reply: when it arrived (performance.now() ms) and how long it took (ms). */
export interface Sample {
  endMs: number;
  latencyMs: number;
}

/** Event-loop delay of the bench process itself (it runs autocannon and the publisher). */
export interface LoopDelay {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** One measured run at fixed concurrency, with when it started and the bench's own loop delay. */
export interface LoadRun extends HttpRun {
  /** performance.now() when the run started. */
  startMs: number;
  benchLoop: LoopDelay;
  samples: Sample[];
}

export interface LoadSpec {
  url: string;
  body: string;
  headers: Record<string, string>;
  connections: number;
  seconds: number;
  /** Processes to report CPU for; the bench itself is added. */
  procs: readonly Proc[];
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/**
 * Runs autocannon for `spec.seconds`; `during` (if given) starts right after the load does and runs
 * alongside it. Resolves with the run and whatever `during` resolved with.
 */
export async function runLoad<T>(spec: LoadSpec, during?: (startMs: number) => Promise<T>): Promise<{ run: LoadRun; extra: T | undefined }> {
  const samples: Sample[] = [];
  const loop = monitorEventLoopDelay({ resolution: 5 });
  const closeCpu = cpuWindow([{ label: "bench (autocannon + publisher)", pid: process.pid, node: true }, ...spec.procs]);
  loop.enable();
  const startMs = performance.now();
  let instance: autocannon.Instance | undefined;
  const fired = new Promise<autocannon.Result>((res, rej) => {
    instance = autocannon({
      url: spec.url, method: "POST", body: spec.body, headers: spec.headers,
      connections: spec.connections, duration: spec.seconds, timeout: 20,
    }, (err, result) => {
      if (err) rej(err);
      else res(result);
    });
    instance.on("response", (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (status >= 200 && status < 300) samples.push({ endMs: performance.now(), latencyMs: ms });
    });
  });
  const [result, extra] = await Promise.all([fired, during ? during(startMs) : Promise.resolve(undefined)]);
  loop.disable();
  const cpu = await closeCpu();
  return {
    run: {
      connections: spec.connections,
      seconds: result.duration,
      startMs,
      requests: samples.length,
      rps: samples.length / result.duration,
      latency: summarize(samples.map((s) => s.latencyMs)),
      errors: result.errors,
      non2xx: result.non2xx,
      timeouts: result.timeouts,
      cpu,
      benchLoop: { p50Ms: round3(loop.percentile(50) / 1e6), p99Ms: round3(loop.percentile(99) / 1e6), maxMs: round3(loop.max / 1e6) },
      samples,
    },
    extra,
  };
}

/** A publish the bench made: when it started, how long the call took, what it deployed. */
export interface Publish {
  label: string;
  startMs: number;
  callMs: number;
  modelVersion: string;
  pipelineVersion: string;
}

/** Latencies grouped by how long after the latest publish each request started. */
export interface Bucket {
  label: string;
  latency: Latency;
}

/** Splits the samples of a run with publishes by the time from the latest publish to the request's start. */
export function bucketsSincePublish(samples: readonly Sample[], publishes: readonly Publish[], edgesMs: readonly number[]): Bucket[] {
  const starts = publishes.map((p) => p.startMs).sort((a, b) => a - b);
  const groups = new Map<string, number[]>();
  const labels = ["before the first publish", ...edgesMs.slice(1).map((e, i) => `${edgesMs[i]}-${e} ms after`), `>= ${edgesMs[edgesMs.length - 1]} ms after`];
  for (const l of labels) groups.set(l, []);
  for (const s of samples) {
    const begin = s.endMs - s.latencyMs;
    let latest: number | undefined;
    for (const t of starts) if (t <= begin) latest = t;
    let label = labels[0]!;
    if (latest !== undefined) {
      const since = begin - latest;
      const i = edgesMs.findIndex((e, k) => since >= e && (k === edgesMs.length - 1 || since < edgesMs[k + 1]!));
      label = labels[i + 1] ?? labels[labels.length - 1]!;
    }
    groups.get(label)!.push(s.latencyMs);
  }
  return labels.map((label) => ({ label, latency: summarize(groups.get(label)!) })).filter((b) => b.latency.count > 0);
}

/** One publish followed by back-to-back requests until a reply carries the published model version. */
export interface Flip {
  label: string;
  /** publishManifestFile's own duration (upload check, history read, KV put). */
  callMs: number;
  /** From the start of the publish call to the first reply carrying the new version. */
  toNewMs: number;
  /** From the publish call's return (KV put acknowledged) to that reply. */
  afterAckMs: number;
  /** Replies in the poll, and how many of them still carried the old version. */
  replies: number;
  stale: number;
  failed: number;
  modelVersion: string;
}

interface Reply {
  atMs: number;
  version: string | undefined;
}

async function inferOnce(url: string, body: string, headers: Record<string, string>): Promise<Reply> {
  try {
    const res = await fetch(url, { method: "POST", body, headers });
    const text = await res.text();
    const atMs = performance.now();
    if (!res.ok) return { atMs, version: undefined };
    const records = JSON.parse(text) as { model_version?: unknown }[];
    const v = records[0]?.model_version;
    return { atMs, version: typeof v === "string" ? v : undefined };
  } catch {
    return { atMs: performance.now(), version: undefined };
  }
}

/**
 * Starts `publish` and, at the same time, sends requests one after the other; resolves at the first
 * reply whose model_version is the published one. The version serving before must differ from it.
 */
export async function pollForFlip(label: string, url: string, body: string, headers: Record<string, string>,
  publish: () => Promise<{ modelVersion: string }>, timeoutMs: number): Promise<Flip> {
  const t0 = performance.now();
  const published: { version?: string; atMs?: number; err?: unknown } = {};
  const call = publish().then((r) => {
    published.version = r.modelVersion;
    published.atMs = performance.now();
  }, (err: unknown) => {
    published.err = err;
  });
  const replies: Reply[] = [];
  let failed = 0;
  while (performance.now() - t0 < timeoutMs) {
    if (published.err !== undefined) throw published.err as Error;
    const reply = await inferOnce(url, body, headers);
    if (reply.version === undefined) failed++;
    else replies.push(reply);
    if (published.version !== undefined && published.atMs !== undefined) {
      const hit = replies.findIndex((r) => r.version === published.version);
      if (hit >= 0) {
        const at = replies[hit]!.atMs;
        return {
          label, callMs: round3(published.atMs - t0), toNewMs: round3(at - t0), afterAckMs: round3(at - published.atMs),
          replies: replies.length, stale: hit, failed, modelVersion: published.version,
        };
      }
    }
  }
  await call;
  throw new Error(`${label}: no reply carried model version ${String(published.version)} within ${timeoutMs} ms (${replies.length} replies, ${failed} failed)`);
}
