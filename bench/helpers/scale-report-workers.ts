// Report of bench/scale.ts, part 1: runs, medians and 2/1 ratios, CPU and peak RSS of each process.
import type { CpuShare } from "./load.js";
import { table } from "./report.js";
import { scaleLabels, scaleSettings, targets } from "./scale-config.js";
import type { LoadSummary, WorkersRatio } from "./scale-summary.js";
import { setupOf, type ScaleRun, type SetupMemory, type WorkersResult } from "./scale-workers.js";

/** Part 1 with its medians and ratios. */
export type WorkersReport = WorkersResult & { summary: LoadSummary[]; ratios: WorkersRatio[] };

const int = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "-");
const ms = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : "-");
const fixed = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : "-");

/** Processes in column order; a CPU share or RSS series matches a column when its label starts with it. */
const columns = ["bench", scaleLabels.nats, scaleLabels.inferer, scaleLabels.gateway, scaleLabels.oneProcess];

function otherLoad(cpu: readonly CpuShare[]): string {
  const other = cpu.find((c) => c.label === "other processes")?.totalPct ?? Number.NaN;
  return `${other.toFixed(0)}%${other > 20 ? " NOISY" : ""}`;
}

function cpuCell(cpu: readonly CpuShare[], column: string): string {
  const c = cpu.find((x) => x.label.startsWith(column));
  return c ? `${c.totalPct.toFixed(0)}%${c.mainPct === undefined ? "" : ` (main ${c.mainPct.toFixed(0)}%)`}` : "-";
}

function runsTable(runs: readonly ScaleRun[]): string {
  return table(["load", "setup", "round", "req/s", "p50 ms", "p99 ms", "failed", "other load"],
    runs.map((r) => [r.load, r.setup, String(r.round), int(r.rps), ms(r.p50Ms), ms(r.p99Ms), String(r.failed), otherLoad(r.cpu)]));
}

function summaryTable(summary: readonly LoadSummary[]): string {
  return table(["load", "setup", "rounds", "median req/s", "best req/s", "p50 ms", "p99 ms", "failed"],
    summary.map((s) => [s.load, s.setup, String(s.rounds), int(s.rps), int(s.bestRps), ms(s.p50Ms), ms(s.p99Ms), String(s.failed)]));
}

function cpuTable(runs: readonly ScaleRun[]): string {
  return table(["load", "setup", "round", ...columns], runs.map((r) => [r.load, r.setup, String(r.round), ...columns.map((c) => cpuCell(r.cpu, c))]));
}

function memoryTable(memory: readonly SetupMemory[]): string {
  const cell = (m: SetupMemory, column: string): string => {
    const peak = m.peaks.find((p) => p.label.startsWith(column));
    return peak ? peak.mb.toFixed(0) : "-";
  };
  return table(["setup", "round", ...columns], memory.map((m) => [m.setup, String(m.round), ...columns.map((c) => cell(m, c))]));
}

function ratioLines(ratios: readonly WorkersRatio[]): string[] {
  const setups = [...new Set(ratios.map((r) => r.setup))];
  return setups.flatMap((setup) => [`${setup} / 1 worker, req/s:`, ...ratios.filter((r) => r.setup === setup).map((r) => {
    const workers = r.setup === setupOf(2);
    const classifier = workers && r.load.startsWith("image classifier");
    const verdict = classifier ? ` — ${r.ratio >= targets.classifierRatio ? "MEETS" : "does NOT meet"} the >= ${targets.classifierRatio}x target` : "";
    return `  ${r.load}: ${fixed(r.ratio)}x (best rounds ${fixed(r.bestRatio)}x)${verdict}`;
  })]);
}

function problemLines(runs: readonly ScaleRun[]): string[] {
  return runs.filter((r) => r.failed > 0).map((r) => `  ${r.load}, ${r.setup}, round ${r.round}: ${r.failed} failed; ${r.problems.join(" | ")}`);
}

/** The readable report of part 1. */
export function renderWorkers(w: WorkersReport): string {
  const s = scaleSettings;
  const problems = problemLines(w.runs);
  return [
    `Part 1: ferry start inferer --workers N (1 and 2, alternated over ${s.rounds} rounds) against one nats-server, log records on;`,
    `loads: ${s.devices} NATS devices in closed loops (one workload at a time; ${Math.min(16, s.devices)} for the compute-bound classifier, 4.2 G`,
    `multiply-adds an image), then house price over HTTP through a ferry start gateway child (autocannon c${s.httpConnections});`,
    `${s.warmupSeconds} s warm-up + ${s.seconds} s each. "${setupOf(1, 2)}" = --workers 1 --threads 2, compute-bound classifier only.`,
    `"one process" = ferry start --workers 1 (all services).`,
    "",
    runsTable(w.runs),
    "",
    summaryTable(w.summary),
    "",
    ...ratioLines(w.ratios),
    ...(problems.length ? ["", "Failures:", ...problems] : []),
    "",
    "CPU, % of one core over each measured window (main = JS main thread; the inferer's worker threads are the rest):",
    cpuTable(w.runs),
    "",
    `Peak RSS, MB (10^6 bytes), sampled every ${s.loadSampleMs} ms while the setup was under load:`,
    memoryTable(w.memory),
  ].join("\n");
}
