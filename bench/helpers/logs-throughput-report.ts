// Report of bench/logs.ts part 1: every run, the mode-against-mode ratios with their per-round spread,
// and the stored-record checks.
import { concurrencies, timing } from "./config.js";
import type { HttpRun } from "./load.js";
import { int, ms, table } from "./logs-format.js";
import { noisyPct, otherPct, type ModeRatio, type ThroughputPart } from "./logs-throughput.js";

function cpuOf(r: HttpRun, label: string): string {
  const c = r.cpu.find((x) => x.label.startsWith(label));
  if (!c) return "-";
  return c.mainPct === undefined ? `${c.totalPct}%` : `${c.totalPct}% (main ${c.mainPct}%)`;
}

function runsTable(t: ThroughputPart): string {
  const rows = t.runs.map((m) => [
    `${m.round}`, m.mode, String(m.run.connections), int(m.run.rps), ms(m.run.latency.p50Ms, 3), ms(m.run.latency.p99Ms, 3),
    String(m.run.errors + m.run.non2xx + m.run.timeouts), cpuOf(m.run, "ferry"), cpuOf(m.run, "nats-server"), cpuOf(m.run, "bench"),
    `${cpuOf(m.run, "other")}${otherPct(m.run) > noisyPct ? " NOISY" : ""}`,
  ]);
  return table(["round", "mode", "conc", "req/s", "p50 ms", "p99 ms", "err", "ferry CPU", "nats-server CPU", "autocannon CPU", "other"], rows);
}

/** The target applies to sync always against off at 32 connections. */
function verdict(r: ModeRatio, target: number): string {
  if (!Number.isFinite(r.ratio) || r.connections !== 32 || r.of !== "on-always" || r.vs !== "off") return "";
  return r.ratio >= target ? `meets the >= ${target}x target` : `BELOW the ${target}x target by ${((target - r.ratio) * 100).toFixed(1)} points`;
}

function ratioLine(r: ModeRatio, target: number): string {
  const finite = r.perRound.filter(Number.isFinite);
  const spread = finite.length ? `per round ${r.perRound.map((x) => ms(x, 2)).join(", ")} (range ${ms(Math.min(...finite), 2)}–${ms(Math.max(...finite), 2)})` : "";
  const which = r.runs === "all" ? "all runs  " : "quiet runs";
  return `  ${which} conc ${String(r.connections).padStart(2)} ${`${r.of}/${r.vs}`.padEnd(17)} (${r.ofRuns}, ${r.vsRuns} runs): ${int(r.ofRps)} vs ${int(r.vsRps)} req/s`
    + ` -> ${ms(r.ratio, 3)}x  (p50 ${ms(r.ofP50Ms, 3)} vs ${ms(r.vsP50Ms, 3)} ms)  ${r.runs === "all" ? spread : ""}  ${verdict(r, target)}`.trimEnd();
}

function checksTable(t: ThroughputPart): string {
  return table(["round", "mode", "answered", "sent", "stored (/logs)", "pages / time", "stored (NATS)", "messages", "rec/msg", "verdict"], t.checks.map((c) => [
    String(c.round), c.mode, int(c.answered), int(c.sent), int(c.storedViaLogs), `${c.logsPages} / ${ms(c.logsCountMs / 1000, 1)} s`, int(c.storedViaNats),
    int(c.streamMessages), ms(c.streamMessages > 0 ? c.storedViaNats / c.streamMessages : Number.NaN, 0), c.verdict,
  ]));
}

/** Part 1 of the report. */
export function renderThroughput(t: ThroughputPart, target: number): string[] {
  const ratios = concurrencies.flatMap((c) => t.ratios.filter((r) => r.connections === c && r.runs === "all"))
    .concat(t.ratios.filter((r) => r.runs === "quiet"));
  return [
    `1. Inference with log records on vs off: house price, batch 1, pandas-records POST /infer; ${timing.seconds} s per run after ${timing.warmupSeconds} s warm-up;`,
    "   each run a fresh `ferry start --pipeline houseprice.json` with its own nats-server and temp data dir, in one of these modes:",
    ...t.modes.map((m) => `     ${m.name.padEnd(9)}: ${m.args.join(" ")}`),
    "   alternated (every other round in reverse order). CPU = % of one core over the measured window (main = JS main thread);",
    `   other = processes outside the bench (NOISY above ${noisyPct}%).`,
    `   Prediction check: ${t.checkValues.map(String).join(", ")}`,
    "",
    runsTable(t),
    "",
    `Median req/s of one mode against another (all runs, and only runs where other processes used <= ${noisyPct}% of a core):`,
    ...ratios.map((r) => ratioLine(r, target)),
    "",
    "Stored log records after each \"on\" run (answered = 2xx replies incl. warm-ups and the check request; sent = requests written):",
    checksTable(t),
    `"off" runs left ${t.offStored.join(", ")} stream message(s).`,
    ...t.failures.map((f) => `round ${f.round}, ${f.mode}: ${f.verdict}`),
  ];
}
