// Report of bench/sync.ts, leaf link part: the bytes each compression mode put on the link, against the
// baseline mode (the last of SYNC_COMPRESSIONS, "off" by default) of the same cycle of rounds, and the
// time from the restarted hub server taking connections to the first synced message.
import type { LeafCompression } from "@ferry/natsd";
import { compressions } from "./sync-config.js";
import type { RoundResult } from "./sync-round.js";
import { median } from "./stats.js";
import { table } from "./report.js";

/** Medians of one compression mode over its rounds. */
export interface CompressionFigures {
  compression: LeafCompression;
  rounds: number;
  edgeToHubBytes: number;
  hubToEdgeBytes: number;
  /** Edge → hub bytes ÷ the round's FERRY_LOGS bytes (uncompressed stream bytes). */
  perStreamByte: number;
  /** Edge → hub bytes ÷ the baseline mode's in the same cycle, one per cycle. */
  ratios: number[];
  catchUpRecordsPerS: number;
  firstAfterAcceptS: number;
}

const cycleOf = (round: number): number => Math.floor((round - 1) / compressions.length);

/** Per compression mode, in SYNC_COMPRESSIONS order. */
export function compressionFigures(rounds: readonly RoundResult[]): CompressionFigures[] {
  const baseline = compressions[compressions.length - 1]!;
  return compressions.map((compression) => {
    const mine = rounds.filter((r) => r.compression === compression);
    const ratios = mine.map((r) => {
      const base = rounds.find((b) => b.compression === baseline && cycleOf(b.round) === cycleOf(r.round));
      return base ? r.catchUp.link.edgeToHub / base.catchUp.link.edgeToHub : Number.NaN;
    });
    const m = (f: (r: RoundResult) => number): number => median(mine.map(f));
    return {
      compression, rounds: mine.length, ratios,
      edgeToHubBytes: m((r) => r.catchUp.link.edgeToHub), hubToEdgeBytes: m((r) => r.catchUp.link.hubToEdge),
      perStreamByte: m((r) => r.catchUp.link.edgeToHub / r.write.bytes),
      catchUpRecordsPerS: m((r) => r.catchUp.recordsPerS), firstAfterAcceptS: m((r) => r.catchUp.firstAfterAcceptS),
    };
  });
}

const mb = (x: number): string => (Number.isFinite(x) ? (x / 1e6).toFixed(2) : "-");
const fix = (x: number, d = 2): string => (Number.isFinite(x) ? x.toFixed(d) : "-");
const range = (xs: readonly number[]): string => (xs.length ? `${fix(Math.min(...xs))}–${fix(Math.max(...xs))}` : "-");

/** The per-mode table and the catch-up start line, with the 1 s target. */
export function renderLink(rounds: readonly RoundResult[], figures: readonly CompressionFigures[]): string[] {
  const baseline = compressions[compressions.length - 1]!;
  const rows = figures.map((f) => [
    f.compression, String(f.rounds), mb(f.edgeToHubBytes), (f.hubToEdgeBytes / 1e3).toFixed(1), fix(f.perStreamByte, 3),
    f.ratios.map((x) => fix(x, 3)).join(", "), Math.round(f.catchUpRecordsPerS).toLocaleString("en-US"), fix(f.firstAfterAcceptS),
  ]);
  const starts = rounds.map((r) => r.catchUp.firstAfterAcceptS);
  const within = starts.filter((s) => s <= 1).length;
  return [
    "Leaf link bytes (TCP payload of the edge's socket from the link's reconnection to the last message stored; kernel tcp_info via `ss`).",
    "s2_auto picks its level by the link's round trip (no compression below 10 ms, as on an idle loopback; a busy machine can push it over);",
    "s2_best/s2_fast force compression. Medians:",
    table([
      "edge compression", "rounds", "edge→hub MB", "hub→edge kB", "per stream byte", `÷ ${baseline} (per cycle)`, "catch-up rec/s", "1st msg after accept s",
    ], rows),
    "",
    `Catch-up start (hub server accepting → first synced message in FERRY_LOGS_ALL), per round: ${starts.map((s) => fix(s)).join(", ")} s;`,
    `  range ${range(starts)} s, median ${fix(median(starts))} s; ${within} of ${starts.length} round(s) within the 1 s target.`,
  ];
}
