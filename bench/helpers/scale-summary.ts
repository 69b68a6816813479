// Part 1 of bench/scale.ts folded: the rounds of each load × setup into medians, and 2 workers ÷ 1.
import { setupOf, type ScaleRun } from "./scale-workers.js";

/** The rounds of one load on one setup. */
export interface LoadSummary {
  load: string;
  setup: string;
  rounds: number;
  /** Median req/s over the rounds. */
  rps: number;
  /** The best round's req/s (neighbours on the machine only ever slow a round down). */
  bestRps: number;
  p50Ms: number;
  p99Ms: number;
  /** Failed requests, all rounds. */
  failed: number;
}

/** Req/s of a setup ÷ with 1 worker, for one load. */
export interface WorkersRatio {
  load: string;
  /** The setup compared with 1 worker. */
  setup: string;
  /** Of the medians. */
  ratio: number;
  /** Of the best rounds. */
  bestRatio: number;
}

/** The median as usually defined (mean of the middle two for an even count). */
function midpoint(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const half = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[half]! : (sorted[half - 1]! + sorted[half]!) / 2;
}

function fold(of: readonly ScaleRun[]): LoadSummary {
  return {
    load: of[0]!.load, setup: of[0]!.setup, rounds: of.length, rps: midpoint(of.map((r) => r.rps)), bestRps: Math.max(...of.map((r) => r.rps)),
    p50Ms: midpoint(of.map((r) => r.p50Ms)), p99Ms: midpoint(of.map((r) => r.p99Ms)), failed: of.reduce((n, r) => n + r.failed, 0),
  };
}

/** One summary per load × setup, in the order they first ran. */
export function summarizeScaling(runs: readonly ScaleRun[]): LoadSummary[] {
  const keys = [...new Set(runs.map((r) => `${r.load}\u0000${r.setup}`))];
  return keys.map((k) => fold(runs.filter((r) => `${r.load}\u0000${r.setup}` === k)));
}

/** 2 workers ÷ 1 worker, then 1 worker with 2 onnxruntime threads ÷ 1 worker, for every load both ran. */
export function workerRatios(summaries: readonly LoadSummary[]): WorkersRatio[] {
  return [setupOf(2), setupOf(1, 2)].flatMap((setup) => summaries.filter((s) => s.setup === setupOf(1)).flatMap((one) => {
    const other = summaries.find((s) => s.load === one.load && s.setup === setup);
    return other ? [{ load: one.load, setup, ratio: other.rps / one.rps, bestRatio: other.bestRps / one.bestRps }] : [];
  }));
}
