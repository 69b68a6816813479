// Report of bench/devices.ts, durable part by sync interval: each phase on each server, then the
// always ÷ 2m ratios with their per-round spread.
import type { CpuShare } from "./load.js";
import { table } from "./report.js";
import type { DurableSyncPart } from "./devices-durable-sync.js";

const int = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "-");
const fixed = (x: number, digits = 2): string => (Number.isFinite(x) ? x.toFixed(digits) : "-");

function otherLoad(cpu: readonly CpuShare[]): string {
  const other = cpu.find((c) => c.label === "other processes")?.totalPct ?? Number.NaN;
  return `${fixed(other, 0)}%${other > 20 ? " NOISY" : ""}`;
}

function phasesTable(d: DurableSyncPart): string {
  const rows = d.rounds.flatMap((r) => [r.live, r.backlog].map((p) => [
    String(r.round), r.syncInterval, p.label, int(p.submit.acksPerS), fixed(p.firstResultS), fixed(p.lastResultS), int(p.resultsPerS), int(p.flowingPerS),
    `${p.results.results - p.results.ok}${p.results.stalled ? " STALLED" : ""}`, String(p.leftInQueue), otherLoad(p.cpu),
  ]));
  return table(["round", "sync_interval", "phase", "submit acks/s", "1st result s", "last result s", "results/s", "flowing/s", "non-200", "left in queue", "other load"], rows);
}

/** The section of the report. */
export function renderDurableSync(d: DurableSyncPart): string[] {
  return [
    "Durable by sync interval: each round a fresh nats-server with jetstream sync_interval always (Ferry's default) and one with 2m",
    "(nats-server's default), alternated (the second round in reverse order); on each, the live phase, then the backlog phase.",
    "",
    phasesTable(d),
    "",
    "always ÷ 2m (medians over the rounds; per round in brackets):",
    ...d.ratios.map((r) => `  ${r.figure.padEnd(26)} ${int(r.always)} vs ${int(r.twoMinutes)} -> ${fixed(r.ratio)}x  [${r.perRound.map((x) => fixed(x)).join(", ")}]`),
  ];
}
