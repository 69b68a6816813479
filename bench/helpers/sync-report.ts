// Report of bench/sync.ts: the rounds as a table (edge write rate next to the hub's catch-up rate), CPU
// per phase, what the servers warned about, and the JSON summary under bench/results/.
import type { CpuShare } from "./load.js";
import { table } from "./report.js";
import type { SyncSettings } from "./sync-config.js";
import type { RoundResult } from "./sync-round.js";
import type { WarningKind } from "./sync-warnings.js";
import { median } from "./stats.js";
import { writeReportFile } from "./report-file.js";
import { renderLink, type CompressionFigures } from "./sync-report-link.js";
import { renderTlsFigures, type LinkComparison } from "./sync-compare.js";
import type { JoinRun } from "./sync-join.js";

/** Medians over the rounds. */
export interface SyncMedians {
  writeRecordsPerS: number;
  catchUpRecordsPerS: number;
  ratio: number;
  fromStartRecordsPerS: number;
  mbPerS: number;
  firstMessageS: number;
  firstAfterAcceptS: number;
  allInS: number;
}

/** Everything one run of bench/sync found. */
export interface SyncSummary {
  startedAt: string;
  machine: Record<string, string | number | boolean>;
  settings: SyncSettings & { edge: string; pipeline: string; hub: string };
  setup: { linkUpS: number; warmupRecords: number; warnings: WarningKind[] };
  rounds: RoundResult[];
  median: SyncMedians;
  /** Per leaf compression mode of the edge. */
  compression: CompressionFigures[];
  /** Catch-up over a TLS leaf link vs a plain one (bare nats-server pairs). */
  links: LinkComparison;
  /** `ferry start --bundle` to link up and first answered /infer, with TLS. */
  joins: JoinRun[];
  /** Warnings of the comparison and the joins. */
  tlsWarnings: WarningKind[];
  ok: boolean;
}

/** Medians of the rounds' main figures. */
export function mediansOf(rounds: readonly RoundResult[]): SyncMedians {
  const m = (f: (r: RoundResult) => number): number => median(rounds.map(f));
  return {
    writeRecordsPerS: m((r) => r.write.recordsPerS), catchUpRecordsPerS: m((r) => r.catchUp.recordsPerS), ratio: m((r) => r.ratio),
    fromStartRecordsPerS: m((r) => r.catchUp.fromStartRecordsPerS), mbPerS: m((r) => r.catchUp.mbPerS),
    firstMessageS: m((r) => r.catchUp.firstMessageS), firstAfterAcceptS: m((r) => r.catchUp.firstAfterAcceptS), allInS: m((r) => r.catchUp.allInS),
  };
}

const int = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "-");
const fix = (x: number, d = 2): string => (Number.isFinite(x) ? x.toFixed(d) : "-");

/** CPU of processes outside the bench: above ~20% of a core the figures are skewed. */
function otherLoad(cpu: readonly CpuShare[]): string {
  const other = cpu.find((c) => c.label === "other processes")?.totalPct ?? Number.NaN;
  return `${fix(other, 0)}%${other > 20 ? " NOISY" : ""}`;
}

function roundsTable(s: SyncSummary): string {
  const rows = s.rounds.map((r) => [
    String(r.round), r.compression, int(r.write.recordsPerS), int(r.catchUp.recordsPerS), `${fix(r.ratio)}x`, fix(r.catchUp.mbPerS, 1), int(r.catchUp.fromStartRecordsPerS),
    fix(r.write.seconds), fix(r.catchUp.acceptS), fix(r.catchUp.hubReadyS), fix(r.catchUp.linkUpS), fix(r.catchUp.firstMessageS), fix(r.catchUp.firstAfterAcceptS),
    fix(r.catchUp.allInS), fix(r.catchUp.longestPauseS), fix(r.catchUp.link.edgeToHub / 1e6), `${r.catchUp.linkMode.compression}, ${r.catchUp.linkMode.rtt}`,
    r.check.ok ? "ok" : "FAILED", `${otherLoad(r.write.cpu)} / ${otherLoad(r.catchUp.cpu)}`,
  ]);
  const m = s.median;
  rows.push([
    "median", "", int(m.writeRecordsPerS), int(m.catchUpRecordsPerS), `${fix(m.ratio)}x`, fix(m.mbPerS, 1), int(m.fromStartRecordsPerS),
    "", "", "", "", fix(m.firstMessageS), fix(m.firstAfterAcceptS), fix(m.allInS), "", "", "", "", "",
  ]);
  return table([
    "round", "leaf compr.", "edge write rec/s", "hub catch-up rec/s", "catch-up/write", "MB/s", "from start rec/s",
    "write s", "accept s", "hub up s", "link s", "1st msg s", "1st after accept s", "all in s", "max pause s", "link MB e→h", "edge leafz: compression, rtt", "check", "other load w/c",
  ], rows);
}

function checkTable(s: SyncSummary): string {
  return table(["round", "edge msgs", "hub msgs", "edge records", "hub records", "dup", "missing", "reordered", "last matches"], s.rounds.map((r) => [
    String(r.round), int(r.check.edgeMessages), int(r.check.hubMessages), int(r.check.edgeRecords), int(r.check.hubRecords),
    String(r.check.duplicates), String(r.check.missing), String(r.check.outOfOrder), r.check.lastMatches ? "yes" : "NO",
  ]));
}

function cpuTable(s: SyncSummary): string {
  const line = (cpu: readonly CpuShare[]): string => cpu.map((c) => `${c.label} ${fix(c.totalPct, 0)}%${c.mainPct === undefined ? "" : ` (main ${fix(c.mainPct, 0)}%)`}`).join("; ");
  const rows = s.rounds.flatMap((r) => [[String(r.round), "write", line(r.write.cpu)], [String(r.round), "catch-up", line(r.catchUp.cpu)]]);
  return table(["round", "phase", "CPU, % of one core over the phase (main = JS main thread)"], rows);
}

function warningLines(s: SyncSummary): string[] {
  const phases: [string, readonly WarningKind[]][] = [["setup", s.setup.warnings], ...s.rounds.flatMap((r): [string, readonly WarningKind[]][] => [
    [`round ${r.round}, hub down`, r.warnings.offline], [`round ${r.round}, catch-up`, r.warnings.catchUp],
  ])];
  const lines = phases.flatMap(([phase, kinds]) => kinds.map((k) => `  ${phase}: ${k.who} ×${k.count}: ${k.example}`));
  return lines.length ? ["Server and hub warnings (nats-server [WRN]/[ERR], pino warn+; one example per kind):", ...lines] : ["No server or hub warnings."];
}

/** The human-readable report. */
export function renderSync(s: SyncSummary): string {
  const st = s.settings;
  return [
    `Ferry sync bench, ${s.startedAt}: ${Object.entries(s.machine).map(([k, v]) => `${k} ${String(v)}`).join(", ")}`,
    `${s.rounds.length} round(s) (${st.rounds} of each edge leaf compression, alternated): the hub (${st.hub}) stops; edge ${st.edge} writes ${int(st.records)} house-price log records into FERRY_LOGS`,
    `(${st.perMessage} records per acked JetStream message, ${st.inFlight} publishes in flight); the hub starts again and FERRY_LOGS_ALL sources them.`,
    "edge write = records ÷ first publish to last ack; hub catch-up = records after the first sourced message ÷ its time to the last (hub's store clock);",
    "from start = records ÷ (hub start → last message stored), start-up included; MB/s = the edge's FERRY_LOGS bytes of the round ÷ the catch-up time.",
    "accept / hub up / link / 1st msg / all in = seconds from the call that starts the hub to: its nats-server taking a TCP connection (10 ms polls);",
    "Ops and its services started; an edge heartbeat answered across the leaf link; the first and the last message of the round stored.",
    "1st after accept = 1st msg − accept. max pause = longest stall of the hub's count (50 ms polls). link MB e→h = bytes the edge sent on the leaf link;",
    "edge leafz = the mode and round trip the edge's server reports for the link once all is in (s2_auto re-picks its level by round trip).",
    `other load = CPU (% of one core) of processes outside the bench during the write / the catch-up; NOISY above 20%. Link up at setup: ${fix(s.setup.linkUpS)} s.`,
    "",
    roundsTable(s),
    "",
    ...renderLink(s.rounds, s.compression),
    "",
    ...renderTlsFigures(s.links, s.joins),
    "",
    checkTable(s),
    "",
    cpuTable(s),
    "",
    ...warningLines(s),
    ...(s.tlsWarnings.length ? ["TLS comparison and joins:", ...s.tlsWarnings.map((k) => `  ${k.who} ×${k.count}: ${k.example}`)] : []),
    "",
    s.ok ? "Every record reached the hub once, in order." : "SYNC CHECK FAILED: see the check table.",
  ].join("\n");
}

/** Writes the summary to bench/results/sync-<timestamp>.json; returns the path. */
export function writeSyncSummary(dir: string, s: SyncSummary): Promise<string> {
  return writeReportFile(dir, "sync", s);
}
