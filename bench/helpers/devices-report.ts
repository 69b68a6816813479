// Report of bench/devices.ts: the readable tables and the JSON file.
import { procLabels, type devicesSettings } from "./devices-config.js";
import type { DurablePhase } from "./devices-durable.js";
import type { DurableSyncPart } from "./devices-durable-sync.js";
import { renderDurableSync } from "./devices-durable-sync-report.js";
import type { SyncRun, SyncSummary } from "./devices-sync.js";
import type { CpuShare } from "./load.js";
import { table } from "./report.js";
import { writeReportFile } from "./report-file.js";

/** Everything one run of bench/devices.ts measured. */
export interface DevicesSummary {
  startedAt: string;
  machine: Record<string, string | number | boolean>;
  settings: typeof devicesSettings & { modes: string[] };
  /** Part 1 and part 2 against it; absent with DEVICES_PARTS=durable. */
  sync?: { runs: SyncRun[]; summary: SyncSummary[] };
  durable?: {
    live: DurablePhase;
    backlog: DurablePhase;
    /** House price, batching off, median req/s of the devices (part 1). */
    syncRps: number;
    /** Results/s ÷ syncRps. */
    ratio: { live: number; backlog: number; backlogFlowing: number };
  };
  /** Part 2 on servers syncing always against every 2 minutes. */
  durableSync: DurableSyncPart;
}

type Measured = DevicesSummary & Required<Pick<DevicesSummary, "sync" | "durable">>;

const int = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "-");
const ms = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : "-");
const fixed = (x: number, digits = 2): string => (Number.isFinite(x) ? x.toFixed(digits) : "-");

/** CPU that processes outside the bench used during the run: above ~20% of a core the run is skewed. */
function otherLoad(cpu: readonly CpuShare[]): string {
  const other = cpu.find((c) => c.label === "other processes")?.totalPct ?? Number.NaN;
  return `${other.toFixed(0)}%${other > 20 ? " NOISY" : ""}`;
}

const cpuLabels = [procLabels.bench, procLabels.inferer, procLabels.nats];

function cpuCell(cpu: readonly CpuShare[], label: string): string {
  const c = cpu.find((x) => x.label === label);
  return c ? `${c.totalPct.toFixed(0)}%${c.mainPct === undefined ? "" : ` (main ${c.mainPct.toFixed(0)}%)`}` : "-";
}

function failures(statuses: Record<string, number>, errors: number): string {
  const parts = Object.entries(statuses).map(([s, n]) => `${n}×${s}`);
  if (errors > 0) parts.push(`${errors} no reply`);
  return parts.length ? parts.join(", ") : "0";
}

function runsTable(runs: readonly SyncRun[]): string {
  return table(["workload", "batching", "round", "replies", "req/s", "p50 ms", "p99 ms", "runs/req", "non-200 / no reply", "other load"],
    runs.map((r) => [r.workload, r.mode, String(r.round), int(r.ok), int(r.rps), ms(r.latency.p50Ms), ms(r.latency.p99Ms),
      fixed(r.runsPerRequest, 3), failures(r.otherStatuses, r.errors), otherLoad(r.cpu)]));
}

function summaryTable(summary: readonly SyncSummary[]): string {
  return table(["workload", "batching", "rounds", "median req/s", "vs off", "best req/s", "best vs off", "p50 ms", "p99 ms", "runs/req", "failed"],
    summary.map((s) => [s.workload, s.mode, String(s.rounds), int(s.rps), `${fixed(s.vsOff)}x`, int(s.bestRps), `${fixed(s.bestVsOff)}x`,
      ms(s.p50Ms), ms(s.p99Ms), fixed(s.runsPerRequest, 3), String(s.failed)]));
}

function targetLines(summary: readonly SyncSummary[]): string[] {
  return summary.filter((s) => s.workload === "image classifier" && s.mode !== "off").map((s) =>
    `  image classifier, batching ${s.mode}: ${fixed(s.vsOff)}x batching off (best rounds ${fixed(s.bestVsOff)}x) — ${s.vsOff >= 2 ? "meets" : "BELOW"} the >= 2x target`);
}

function durableTable(d: Measured["durable"]): string {
  const rows = [d.live, d.backlog].map((p) => [
    p.label, int(p.requests), int(p.submit.acksPerS), fixed(p.firstResultS), fixed(p.lastResultS), int(p.resultsPerS), int(p.flowingPerS),
    fixed(p.runsPerRequest, 3), `${p.results.results - p.results.ok}${p.results.stalled ? " STALLED" : ""}`, String(p.leftInQueue), otherLoad(p.cpu),
  ]);
  return table(["phase", "requests", "submit acks/s", "1st result s", "last result s", "results/s", "flowing/s", "runs/req", "non-200", "left in queue", "other load"], rows);
}

function durableLines(d: Measured["durable"]): string[] {
  const notes = [d.live, d.backlog].flatMap((p) => {
    const odd = [p.submit.duplicates && `${p.submit.duplicates} duplicate acks`, p.submit.retries && `${p.submit.retries} publish retries`,
      p.results.repeats && `${p.results.repeats} repeated results`, Object.keys(p.results.otherStatuses).length && failures(p.results.otherStatuses, 0),
      p.results.results < p.requests && `${p.requests - p.results.results} results missing`].filter(Boolean);
    return odd.length ? [`  ${p.label}: ${odd.join(", ")}`] : [];
  });
  return [
    `Sync baseline (house price, batching off, ${int(d.syncRps)} req/s from the devices). Durable ÷ sync:`,
    `  live ${fixed(d.ratio.live)}x, backlog drain ${fixed(d.ratio.backlog)}x from the inferer's spawn (${fixed(d.ratio.backlogFlowing)}x once results flow)`,
    ...notes,
  ];
}

function cpuTable(s: Measured): string {
  const rows = [
    ...s.sync.runs.map((r) => ({ name: `${r.workload}, ${r.mode}, round ${r.round}`, cpu: r.cpu })),
    ...[s.durable.live, s.durable.backlog].map((p) => ({ name: `durable ${p.label}`, cpu: p.cpu })),
  ];
  return [
    "CPU, % of one core over the measured window (main = the JS main thread):",
    table(["run", ...cpuLabels], rows.map((r) => [r.name, ...cpuLabels.map((l) => cpuCell(r.cpu, l))])),
  ].join("\n");
}

function problemLines(runs: readonly SyncRun[]): string[] {
  const seen = [...new Set(runs.flatMap((r) => r.problems.map((p) => `  ${r.workload}, ${r.mode}: ${p}`)))];
  return seen.length ? ["Problems seen (first few per run):", ...seen.slice(0, 20), ""] : [];
}

/** The human-readable report. */
export function renderDevices(s: DevicesSummary): string {
  return [
    `Ferry devices bench, ${s.startedAt}: ${Object.entries(s.machine).map(([k, v]) => `${k} ${String(v)}`).join(", ")}`,
    ...(s.sync && s.durable ? renderParts(s as Measured) : [`Durable: ${s.settings.durableRequests} single-row house-price submissions per phase (DEVICES_PARTS=durable: part 1 not run).`]),
    "",
    ...renderDurableSync(s.durableSync),
  ].join("\n");
}

function renderParts(s: Measured): string[] {
  const st = s.settings;
  return [
    `${st.devices} device connections, each a closed loop of NATS requests; ${st.rounds} round(s) × ${st.seconds} s per workload and batching mode`,
    `after ${st.warmupSeconds} s warm-up, a fresh inferer per round and mode; batch max 64; latency = client-side; runs/req = inferer session runs ÷ requests;`,
    "median = over the rounds (with two rounds, their mean); best = the fastest round (neighbours only ever slow a round down).",
    "other load = CPU (% of one core) that processes outside the bench used during the run; NOISY above 20%.",
    "",
    runsTable(s.sync.runs),
    "",
    summaryTable(s.sync.summary),
    "",
    "Batching target (image classifier, 64 devices):",
    ...targetLines(s.sync.summary),
    "",
    ...problemLines(s.sync.runs),
    `Durable: ${st.durableRequests} single-row house-price submissions per phase, <= ${st.publishesInFlight} publishes awaiting acks; results read from FERRY_RESULTS.`,
    "live: inferer running, clock from the first publish; backlog: submitted with no inferer, clock from the inferer's spawn.",
    "",
    durableTable(s.durable),
    "",
    ...durableLines(s.durable),
    "",
    cpuTable(s),
  ];
}

/** Writes the summary to bench/results/devices-<timestamp>.json; returns the path. */
export function writeDevicesSummary(dir: string, s: DevicesSummary): Promise<string> {
  return writeReportFile(dir, "devices", s);
}
