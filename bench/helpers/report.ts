import type { InProcessRun } from "./inprocess.js";
import type { HttpRun } from "./load.js";
import type { ImageFigure } from "./probe.js";
import type { Memory } from "./servers.js";
import { writeReportFile } from "./report-file.js";

/** Every run of one server topology. */
export interface TopologyResult {
  name: string;
  /** First output value of a check request (the predicted price). */
  checkValue: number | undefined;
  runs: HttpRun[];
  memory: Memory[];
}

export interface Ratio {
  topology: string;
  connections: number;
  rps: number;
  p50: number;
  p99: number;
}

export interface Summary {
  startedAt: string;
  machine: Record<string, string | number | boolean>;
  timing: { seconds: number; warmupSeconds: number; imageRequests: number };
  inProcess: InProcessRun[];
  inProcessCheckValue: number;
  http: TopologyResult[];
  /** Ferry ÷ bare server at the same concurrency (rps: higher is better; latency: lower is better). */
  ratios: Ratio[];
  image: { ferry: ImageFigure; ferryTwo: ImageFigure; inProcessMedianMs: number; inProcessClassification: number | undefined };
}

const baselineName = "bare Fastify+ort (b)";
export const names = { bare: baselineName, one: "Ferry one process", two: "Ferry two processes" };

/** Ferry/bare for each Ferry topology and concurrency. */
export function ratiosOf(http: readonly TopologyResult[]): Ratio[] {
  const bare = http.find((t) => t.name === baselineName);
  if (!bare) return [];
  return http.filter((t) => t !== bare).flatMap((t) => t.runs.map((r) => {
    const b = bare.runs.find((x) => x.connections === r.connections);
    const ratio = (a: number, c: number | undefined): number => (c ? Math.round((a / c) * 100) / 100 : Number.NaN);
    return { topology: t.name, connections: r.connections, rps: ratio(r.rps, b?.rps), p50: ratio(r.latency.p50Ms, b?.latency.p50Ms), p99: ratio(r.latency.p99Ms, b?.latency.p99Ms) };
  }));
}

const int = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "-");
const ms = (x: number): string => (Number.isFinite(x) ? x.toFixed(3) : "-");

/** A plain-text table: first column left-aligned, the others right-aligned. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/** CPU that processes outside the bench used during the run: above ~20% of a core the run is skewed. */
function otherLoad(r: HttpRun): string {
  const other = r.cpu.find((c) => c.label === "other processes")?.totalPct ?? Number.NaN;
  return `${other.toFixed(0)}%${other > 20 ? " NOISY" : ""}`;
}

function throughputTable(s: Summary): string {
  const rows: string[][] = s.inProcess.map((r) => [
    "in-process ort (a)", String(r.chains), int(r.runsPerS), ms(r.latency.p50Ms), ms(r.latency.p99Ms), "-", "-", "-",
  ]);
  for (const t of s.http) {
    for (const r of t.runs) {
      const ratio = s.ratios.find((x) => x.topology === t.name && x.connections === r.connections);
      rows.push([
        t.name, String(r.connections), int(r.rps), ms(r.latency.p50Ms), ms(r.latency.p99Ms),
        String(r.errors + r.non2xx + r.timeouts), ratio ? `${ratio.rps.toFixed(2)}x` : "-", otherLoad(r),
      ]);
    }
  }
  return table(["target", "conc", "req/s", "p50 ms", "p99 ms", "err", "rps vs (b)", "other load"], rows);
}

function cpuTable(s: Summary): string {
  const rows = s.http.flatMap((t) => t.runs.map((r) => [
    t.name, String(r.connections),
    r.cpu.map((c) => `${c.label} ${c.totalPct}%${c.mainPct === undefined ? "" : ` (main ${c.mainPct}%)`}`).join("; "),
  ]));
  return table(["target", "conc", "CPU, % of one core over the measured window (main = JS main thread)"], rows);
}

function memoryTable(s: Summary): string {
  const rows = s.http.flatMap((t) => t.memory.map((m) => [t.name, m.label, m.peakMiB.toFixed(1), m.rssMiB.toFixed(1)]));
  return table(["target", "process", "peak RSS MiB", "RSS at end MiB"], rows);
}

/** Issue 19's throughput targets: Ferry ÷ bare server req/s at these concurrencies. */
const rpsTargets: Record<number, number> = { 1: 0.35, 32: 0.8 };

function ratioLines(s: Summary): string[] {
  return s.ratios.map((r) => {
    const target = rpsTargets[r.connections];
    const verdict = target === undefined ? "" : r.rps >= target ? `  meets the >= ${target}x target` : `  BELOW the ${target}x target`;
    return `  ${r.topology.padEnd(20)} conc ${String(r.connections).padStart(2)}: req/s ${r.rps.toFixed(2)}x, p50 ${r.p50.toFixed(2)}x, p99 ${r.p99.toFixed(2)}x${verdict}`;
  });
}

/** Issue 19's image target: the sequential end-to-end median at most this, ms. */
const imageE2eTargetMs = 6;

function imageLines(f: ImageFigure, s: Summary): string[] {
  const l = f.load;
  const one = f.single.latency.p50Ms;
  const verdict = (x: number): string => (x <= imageE2eTargetMs ? `meets the <= ${imageE2eTargetMs} ms target` : `ABOVE the ${imageE2eTargetMs} ms target`);
  return [
    `Image classifier (${f.topology}, edge-cv-demo, ${f.bodyBytes} B Arrow body):`,
    `  end-to-end median, 1 conn    ${ms(f.e2eMedianMs)} ms (fetch(), ${f.requests} sequential requests after warm-up; ${verdict(f.e2eMedianMs)})`,
    `  end-to-end p50, 1 conn       ${ms(one)} ms (autocannon, ${int(f.single.rps)} images/s, other load ${otherLoad(f.single)}; ${verdict(one)})`,
    `  elapsed[0] decode median     ${ms(f.decodeMedianMs)} ms`,
    `  elapsed[1] session median    ${ms(f.sessionMedianMs)} ms`,
    `  in-process session.run med.  ${ms(s.image.inProcessMedianMs)} ms (same tensor, intraOpNumThreads 1)`,
    `  outside decode+session       ${ms(f.e2eMedianMs - f.decodeMedianMs - f.sessionMedianMs)} ms (HTTP, NATS, reply encoding, log record, client)`,
    `  images/s at ${l.connections} connections     ${int(l.rps)} (p50 ${ms(l.latency.p50Ms)} ms, p99 ${ms(l.latency.p99Ms)} ms, errors ${l.errors + l.non2xx + l.timeouts}, other load ${otherLoad(l)})`,
    `  CPU at ${l.connections} connections          ${l.cpu.map((c) => `${c.label} ${c.totalPct}%`).join("; ")}`,
    `  memory                       ${f.memory.map((m) => `${m.label} peak ${m.peakMiB.toFixed(1)} MiB`).join("; ")}`,
    `  classification: Ferry ${String(f.classification)}, in-process ${String(s.image.inProcessClassification)}`,
  ];
}

/** The human-readable report. */
export function render(s: Summary): string {
  const checks = s.http.map((t) => `${t.name} ${String(t.checkValue)}`).join(", ");
  return [
    `Ferry inference bench, ${s.startedAt}: ${Object.entries(s.machine).map(([k, v]) => `${k} ${String(v)}`).join(", ")}`,
    `House price, batch 1, pandas-records JSON; ${s.timing.seconds} s per run after ${s.timing.warmupSeconds} s warm-up; latency = client-side.`,
    "other load = CPU (% of one core) that processes outside the bench used during the run; NOISY above 20%.",
    `Prediction check: in-process ${s.inProcessCheckValue}, ${checks}`,
    "",
    throughputTable(s),
    "",
    "Ferry / bare server (b):",
    ...ratioLines(s),
    "",
    cpuTable(s),
    "",
    memoryTable(s),
    "",
    ...imageLines(s.image.ferry, s),
    "",
    ...imageLines(s.image.ferryTwo, s),
  ].join("\n");
}

/** Writes the summary to bench/results/infer-<timestamp>.json; returns the path. */
export function writeSummary(dir: string, s: Summary): Promise<string> {
  return writeReportFile(dir, "infer", s);
}
