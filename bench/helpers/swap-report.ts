// Report of bench/swap.ts: the readable tables and the JSON file.
import type { Bucket, Flip, LoadRun, Publish } from "./swap-load.js";
import { writeReportFile } from "./report-file.js";

/** A load run as stored (without its per-request samples). */
export type StoredRun = Omit<LoadRun, "samples" | "startMs">;

/** One of the slowest requests of the swap phase, placed against the publishes. */
export interface SlowRequest {
  latencyMs: number;
  /** From the start of the latest publish call to the request's start (null: before the first). */
  sincePublishMs: number | null;
}

export interface Spread {
  medianMs: number;
  maxMs: number;
}

export interface SwapSummary {
  startedAt: string;
  machine: Record<string, string | number | boolean>;
  settings: { pipeline: string; connections: number; seconds: number; warmupSeconds: number; publishIntervalMs: number; flips: number };
  models: { label: string; file: string; sha256: string }[];
  /** onnxruntime session creation and one warm-up run, measured in the bench process before Ferry starts. */
  inProcess: { createMs: Spread; warmupRunMs: Spread; sessions: number };
  /** The first publish of each model (object-store upload, inferer fetch), before anything is measured. */
  prime: Flip[];
  steady: StoredRun;
  swap: StoredRun & { publishes: Publish[]; buckets: Bucket[]; slowest: SlowRequest[] };
  /** swap ÷ steady. */
  ratio: { p50: number; p99: number };
  failedRequests: number;
  flips: Flip[];
  flipStats: { toNew: Spread; afterAck: Spread; publishCall: Spread };
  verdicts: { noFailures: boolean; p99Within2x: boolean };
}

const ms = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : "-");
const int = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "-");

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

function cpuLine(r: StoredRun): string {
  return r.cpu.map((c) => `${c.label} ${c.totalPct}%${c.mainPct === undefined ? "" : ` (main ${c.mainPct}%)`}`).join("; ");
}

/** CPU that processes outside the bench used during the run: above ~20% of a core the run is skewed. */
function otherLoad(r: StoredRun): string {
  const other = r.cpu.find((c) => c.label === "other processes")?.totalPct ?? Number.NaN;
  return `${other.toFixed(0)}%${other > 20 ? " NOISY" : ""}`;
}

function loadTable(s: SwapSummary): string {
  const row = (name: string, r: StoredRun): string[] => [
    name, int(r.requests), int(r.rps), ms(r.latency.p50Ms), ms(r.latency.p99Ms), ms(r.latency.meanMs),
    String(r.errors + r.non2xx + r.timeouts), `${ms(r.benchLoop.p99Ms)} / ${ms(r.benchLoop.maxMs)}`, otherLoad(r),
  ];
  return table(
    ["phase", "requests", "req/s", "p50 ms", "p99 ms", "mean ms", "failed", "bench loop delay p99/max ms", "other load"],
    [row("steady", s.steady), row(`swaps (${s.swap.publishes.length} publishes)`, s.swap)],
  );
}

function bucketTable(s: SwapSummary): string {
  return table(
    ["swap phase: request started", "requests", "p50 ms", "p99 ms", "share"],
    s.swap.buckets.map((b) => [b.label, int(b.latency.count), ms(b.latency.p50Ms), ms(b.latency.p99Ms), `${((b.latency.count / Math.max(1, s.swap.requests)) * 100).toFixed(1)}%`]),
  );
}

function flipTable(s: SwapSummary): string {
  const row = (n: string, f: Flip): string[] => [
    n, f.label, ms(f.callMs), ms(f.toNewMs), ms(f.afterAckMs), String(f.replies), String(f.stale), String(f.failed),
  ];
  return table(
    ["publish", "model", "call ms", "to new reply ms", "after ack ms", "replies", "stale", "failed"],
    [...s.prime.map((f) => row("prime (first upload)", f)), ...s.flips.map((f, i) => row(String(i + 1), f))],
  );
}

/** The human-readable report. */
export function renderSwap(s: SwapSummary): string {
  const v = s.verdicts;
  const slow = s.swap.slowest.slice(0, 10).map((x) => `${ms(x.latencyMs)} ms (${x.sincePublishMs === null ? "before any publish" : `+${ms(x.sincePublishMs)} ms`})`).join(", ");
  return [
    `Ferry swap bench, ${s.startedAt}: ${Object.entries(s.machine).map(([k, val]) => `${k} ${String(val)}`).join(", ")}`,
    `Pipeline ${s.settings.pipeline}: house price, batch 1, pandas-records, POST /pipelines/${s.settings.pipeline}, ${s.settings.connections} connections, ` +
      `${s.settings.seconds} s per phase after ${s.settings.warmupSeconds} s warm-up; latency = client-side (autocannon).`,
    `Models: ${s.models.map((m) => `${m.label} ${m.sha256.slice(0, 12)}… (${m.file})`).join("; ")}`,
    "",
    "1. Latency, steady vs while publishing a new version every " + `${s.settings.publishIntervalMs} ms (alternating A/B)`,
    loadTable(s),
    "",
    `  swap/steady: p50 ${s.ratio.p50.toFixed(2)}x, p99 ${s.ratio.p99.toFixed(2)}x ` +
      `(${v.p99Within2x ? "meets" : "MISSES"} the <= 2x target); failed requests: ${s.failedRequests} (${v.noFailures ? "ok" : "MUST BE 0"})`,
    "  other load = CPU (% of one core) used by processes outside the bench during the phase; NOISY above 20%.",
    `  CPU steady: ${cpuLine(s.steady)}`,
    `  CPU swaps:  ${cpuLine(s.swap)}`,
    "",
    bucketTable(s),
    `  slowest swap-phase requests (start relative to the latest publish call): ${slow}`,
    "",
    `2. Publish -> first reply with the new model_version (${s.flips.length} publishes, requests back to back, no other load)`,
    flipTable(s),
    "",
    `  to new reply: median ${ms(s.flipStats.toNew.medianMs)} ms, max ${ms(s.flipStats.toNew.maxMs)} ms` +
      `  (publish call alone: median ${ms(s.flipStats.publishCall.medianMs)} ms, max ${ms(s.flipStats.publishCall.maxMs)} ms;` +
      ` after the KV put is acked: median ${ms(s.flipStats.afterAck.medianMs)} ms, max ${ms(s.flipStats.afterAck.maxMs)} ms)`,
    `  onnxruntime in the bench process (${s.inProcess.sessions} sessions of the same model, synchronous on the event loop): ` +
      `InferenceSession.create median ${ms(s.inProcess.createMs.medianMs)} ms, max ${ms(s.inProcess.createMs.maxMs)} ms; ` +
      `warm-up run median ${ms(s.inProcess.warmupRunMs.medianMs)} ms, max ${ms(s.inProcess.warmupRunMs.maxMs)} ms`,
  ].join("\n");
}

/** Writes the summary to bench/results/swap-<timestamp>.json; returns the path. */
export function writeSwapSummary(dir: string, s: SwapSummary): Promise<string> {
  return writeReportFile(dir, "swap", s);
}
