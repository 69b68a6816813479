// Helpers of bench/sync.ts: catch-up over a TLS leaf link vs a plain one (bare nats-server pairs,
// sync-pair.ts), rounds alternated so that the machine's other load falls on both alike; and the report.
import { join } from "node:path";
import { progress } from "./machine.js";
import { table } from "./report.js";
import { median } from "./stats.js";
import { syncSettings } from "./sync-config.js";
import type { JoinRun } from "./sync-join.js";
import { LinkPair, type LinkSecurity, type PairRound } from "./sync-pair.js";

/** The comparison's rounds and medians. */
export interface LinkComparison {
  rounds: PairRound[];
  /** Median sourcing records/s per link. */
  tlsRecordsPerS: number;
  plainRecordsPerS: number;
  /** TLS ÷ plain, both bare pairs (the cost of TLS alone; target ≥ 0.8). */
  ratio: number;
  /** Ferry's hub (always TLS; its s2_auto rounds' median catch-up) ÷ the plain pair. */
  hubRatio: number;
}

/** Runs `syncSettings.pairRounds` rounds on each pair, alternating plain and TLS (every other cycle TLS first). */
// Both pairs stop before the join runs: they would only add load.
export async function compareLinks(dir: string, log: (line: string) => void, pipelineVersion: string, hubRecordsPerS: number): Promise<LinkComparison> {
  const pairs: Partial<Record<LinkSecurity, LinkPair>> = {};
  try {
    for (const security of ["plain", "tls"] as const) pairs[security] = await LinkPair.start(security, join(dir, `pair-${security}`), log, pipelineVersion);
    return await alternate(pairs as Record<LinkSecurity, LinkPair>, pipelineVersion, hubRecordsPerS);
  } finally {
    for (const p of Object.values(pairs)) await p.stop();
  }
}

async function alternate(pairs: Record<LinkSecurity, LinkPair>, pipelineVersion: string, hubRecordsPerS: number): Promise<LinkComparison> {
  const rounds: PairRound[] = [];
  for (let cycle = 0; cycle < syncSettings.pairRounds; cycle++) {
    const order: LinkSecurity[] = cycle % 2 === 0 ? ["plain", "tls"] : ["tls", "plain"];
    for (const security of order) {
      const r = await pairs[security].round(pipelineVersion, syncSettings.records);
      progress(`pair ${security} round ${cycle + 1}/${syncSettings.pairRounds}: ${Math.round(r.recordsPerS).toLocaleString("en-US")} records/s sourced (other load ${r.otherPct.sourcing}%)`);
      rounds.push(r);
    }
  }
  const of = (s: LinkSecurity): number => median(rounds.filter((r) => r.security === s).map((r) => r.recordsPerS));
  const [tls, plain] = [of("tls"), of("plain")];
  return { rounds, tlsRecordsPerS: tls, plainRecordsPerS: plain, ratio: tls / plain, hubRatio: hubRecordsPerS / plain };
}

const int = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "-");
const fix = (x: number, d = 2): string => (Number.isFinite(x) ? x.toFixed(d) : "-");

/** The comparison and the join times, for the report. */
export function renderTlsFigures(c: LinkComparison, joins: readonly JoinRun[]): string[] {
  const rows = c.rounds.map((r, i) => [String(i + 1), r.security, int(r.records), int(r.writeRecordsPerS), int(r.recordsPerS), fix(r.allInS), `${r.otherPct.write}% / ${r.otherPct.sourcing}%`]);
  const joinRows = joins.map((j, i) => [String(i + 1), j.edge, fix(j.linkUpS), fix(j.firstInferS)]);
  return [
    "TLS vs plain leaf link. Ferry's hub has no plain mode (TLS always), so both sides of this comparison are bare nats-server pairs the bench",
    "sets up as Ferry does (hub domain, FERRY_LOGS_ALL sourcing the edge's FERRY_LOGS over the leaf link, s2_auto, Ferry's deny lists), one",
    "with TLS on the hub (Ferry's certificate module, the edge checking the CA), one without. Each round: the edge's FERRY_LOGS is purged and",
    "refilled, then FERRY_LOGS_ALL is made again and sources it over the link that is up (no hub restart). rec/s as in the hub rounds.",
    table(["round", "link", "records", "edge write rec/s", "sourced rec/s", "all in s", "other load write / sourcing"], rows),
    `median sourced records/s: TLS ${int(c.tlsRecordsPerS)}, plain ${int(c.plainRecordsPerS)}: TLS ÷ plain = ${fix(c.ratio)}x (target ≥ 0.8x);`,
    `Ferry's hub (TLS, s2_auto rounds above) ÷ plain pair = ${fix(c.hubRatio)}x.`,
    "",
    "Join time with TLS: a new edge added at the hub, then `ferry start --bundle` as a child; seconds from its spawn to GET /health saying the",
    "link is up (join over HTTPS, CA pinned, TLS leaf link, heartbeat answered) and to the first POST /infer answered 200 (100 ms polls).",
    table(["run", "edge", "link up s", "first /infer s"], joinRows),
  ];
}
