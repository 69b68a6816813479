// Part 1 of bench/devices.ts: many devices, one row each, over NATS request/reply, with the inferer's
// batching off and on, alternated in rounds on the same machine and nats-server.
import type { NatsConnection } from "@nats-io/transport-node";
import { progress } from "./machine.js";
import { batchModes, devicesSettings, type BatchMode, type Workload } from "./devices-config.js";
import { closedLoop, type LoopResult } from "./devices-load.js";
import { infererStats, procsOf, startInferer, type BenchNats } from "./devices-site.js";
import { cpuWindow, type CpuShare } from "./load.js";

/** One measured closed-loop run of one workload under one batching mode. */
export interface SyncRun extends LoopResult {
  workload: string;
  mode: string;
  round: number;
  /** Pipeline runs ÷ requests the inferer answered in the window (1: no batching happened). */
  runsPerRequest: number;
  cpu: CpuShare[];
}

/** The rounds of one workload × mode, folded into medians. */
export interface SyncSummary {
  workload: string;
  mode: string;
  rounds: number;
  rps: number;
  /** The best round's req/s (neighbours on the machine only ever slow a round down). */
  bestRps: number;
  p50Ms: number;
  p99Ms: number;
  runsPerRequest: number;
  /** Non-200 replies plus requests without a reply, all rounds. */
  failed: number;
  /** Median req/s ÷ the same workload's median req/s with batching off. */
  vsOff: number;
  /** Best req/s ÷ the same workload's best req/s with batching off. */
  bestVsOff: number;
}

/** What part 1 needs: the nats-server, a control connection and the device connections. */
export interface SyncContext {
  nats: BenchNats;
  nc: NatsConnection;
  devices: readonly NatsConnection[];
  workloads: readonly Workload[];
}

/** Every round: each batching mode (reversed every other round) on a fresh inferer, every workload. */
export async function measureSync(ctx: SyncContext): Promise<SyncRun[]> {
  const runs: SyncRun[] = [];
  for (let round = 1; round <= devicesSettings.rounds; round++) {
    const modes = round % 2 === 1 ? batchModes : [...batchModes].reverse();
    for (const mode of modes) runs.push(...await measureMode(ctx, mode, round));
  }
  return runs;
}

async function measureMode(ctx: SyncContext, mode: BatchMode, round: number): Promise<SyncRun[]> {
  progress(`round ${round}, batching ${mode.label}: starting the inferer`);
  const inferer = await startInferer(ctx.nats, ctx.nc, mode.flags, ctx.workloads.map((w) => w.pipeline));
  try {
    const runs: SyncRun[] = [];
    for (const w of ctx.workloads) {
      const { seconds, warmupSeconds, devices } = devicesSettings;
      progress(`round ${round}, batching ${mode.label}: ${w.label}, ${devices} devices, ${warmupSeconds} s warm-up + ${seconds} s`);
      await closedLoop(ctx.devices, w, warmupSeconds, devicesSettings.requestTimeoutMs);
      const before = await infererStats(ctx.nc);
      const closeCpu = cpuWindow(procsOf(ctx.nats, inferer));
      const loop = await closedLoop(ctx.devices, w, seconds, devicesSettings.requestTimeoutMs);
      const cpu = await closeCpu();
      const after = await infererStats(ctx.nc);
      const runsPerRequest = (after.runs - before.runs) / (after.requests - before.requests);
      runs.push({ workload: w.label, mode: mode.label, round, ...loop, runsPerRequest, cpu });
    }
    return runs;
  } finally {
    await inferer.stop();
  }
}

/** The median as usually defined (mean of the middle two for an even count; stats.median takes the lower one). */
function middle(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const half = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[half]! : (sorted[half - 1]! + sorted[half]!) / 2;
}

function fold(of: readonly SyncRun[]): SyncSummary {
  const failed = of.reduce((n, r) => n + r.errors + Object.values(r.otherStatuses).reduce((a, b) => a + b, 0), 0);
  return {
    workload: of[0]!.workload, mode: of[0]!.mode, rounds: of.length, rps: middle(of.map((r) => r.rps)),
    bestRps: Math.max(...of.map((r) => r.rps)), p50Ms: middle(of.map((r) => r.latency.p50Ms)), p99Ms: middle(of.map((r) => r.latency.p99Ms)),
    runsPerRequest: middle(of.map((r) => r.runsPerRequest)), failed, vsOff: Number.NaN, bestVsOff: Number.NaN,
  };
}

/** Medians over the rounds of each workload × mode (workloads in run order, modes as declared), with the ratio to batching off. */
export function summarizeSync(runs: readonly SyncRun[]): SyncSummary[] {
  const workloads = [...new Set(runs.map((r) => r.workload))];
  const summaries = workloads.flatMap((w) => batchModes
    .map((m) => runs.filter((r) => r.workload === w && r.mode === m.label))
    .filter((of) => of.length > 0)
    .map(fold));
  for (const s of summaries) {
    const off = summaries.find((o) => o.workload === s.workload && o.mode === batchModes[0]!.label);
    s.vsOff = off ? s.rps / off.rps : Number.NaN;
    s.bestVsOff = off ? s.bestRps / off.bestRps : Number.NaN;
  }
  return summaries;
}
