// Part 1 of bench/logs.ts: house-price batch-1 throughput with log records on (its nats-server syncing
// every write before its ack, Ferry's default, and at nats-server's own 2-minute interval) and off, in
// alternated rounds of fresh Ferrys, and a check that every answered request left one stored record.
import { existsSync } from "node:fs";
import { concurrencies, houseBody, houseHeaders, paths, pipelines, timing } from "./config.js";
import type { HttpRun } from "./load.js";
import { countViaHttp, countViaNats, startFerry, waitForQuietStream, waitForStream, withJet, type Ferry } from "./logs-ferry.js";
import { measureCounted } from "./logs-load.js";
import { progress } from "./machine.js";
import { checkReply } from "./probe.js";
import { memoryOf, type Memory } from "./servers.js";
import { median } from "./stats.js";

/** One way of running the Ferry under test. */
export interface LogMode {
  name: "on-always" | "on-async" | "on-2m" | "off";
  /** Whether it stores log records (and is checked for them). */
  records: boolean;
  args: readonly string[];
}

/**
 * Logging on as Ferry's defaults have it (replies wait for their records' ack, `--log-ack sync`; every
 * write synced, `--nats-sync always`), on with replies at once (`--log-ack async`), on with nats-server's
 * default 2 m interval, and off.
 */
export const logModes: readonly LogMode[] = [
  { name: "on-always", records: true, args: ["--log-records", "on", "--nats-sync", "always", "--log-ack", "sync"] },
  { name: "on-async", records: true, args: ["--log-records", "on", "--nats-sync", "always", "--log-ack", "async"] },
  { name: "on-2m", records: true, args: ["--log-records", "on", "--nats-sync", "2m", "--log-ack", "sync"] },
  { name: "off", records: false, args: ["--log-records", "off"] },
];

export type ModeName = LogMode["name"];

export interface ModeRun {
  round: number;
  mode: ModeName;
  run: HttpRun;
}

export interface RecordCheck {
  round: number;
  mode: ModeName;
  /** 2xx replies to POST /infer over the Ferry's life (check request, warm-ups and measured windows). */
  answered: number;
  /** Requests written (answered ones plus those in flight when autocannon stopped). */
  sent: number;
  storedViaLogs: number;
  logsPages: number;
  logsCountMs: number;
  storedViaNats: number;
  streamMessages: number;
  streamBytes: number;
  verdict: string;
}

/** Median req/s of one mode against another at one connection count. */
export interface ModeRatio {
  connections: number;
  /** Runs the medians are over: all, or only those where other processes used <= noisyPct of a core. */
  runs: "all" | "quiet";
  of: ModeName;
  vs: ModeName;
  ofRuns: number;
  vsRuns: number;
  ofRps: number;
  vsRps: number;
  ratio: number;
  ofP50Ms: number;
  vsP50Ms: number;
  /** The ratio in each round (both modes measured), all runs. */
  perRound: number[];
}

export interface ThroughputPart {
  modes: readonly LogMode[];
  runs: ModeRun[];
  ratios: ModeRatio[];
  checks: RecordCheck[];
  /** Stream messages left by the "off" Ferrys (should be 0). */
  offStored: number[];
  checkValues: (number | undefined)[];
  /** Counts that could not be taken (the run's throughput still counts), with the processes found gone. */
  failures: { round: number; mode: ModeName; verdict: string }[];
  memory: { round: number; mode: ModeName; memory: Memory[] }[];
}

/** Above this share of one core used by other processes during a run, the run is marked NOISY. */
export const noisyPct = 20;

export function otherPct(r: HttpRun): number {
  return r.cpu.find((c) => c.label === "other processes")?.totalPct ?? Number.NaN;
}

function verdictOf(answered: number, sent: number, viaLogs: number, viaNats: number): string {
  if (viaLogs !== viaNats) return `MISMATCH: /logs paging ${viaLogs} vs stream headers ${viaNats}`;
  if (viaLogs === answered) return "ok: stored = answered";
  if (viaLogs > answered && viaLogs <= sent) return `ok: ${viaLogs - answered} more stored than answered (requests in flight when the load stopped: answered by Ferry, not read by autocannon)`;
  if (viaLogs < answered) return `MISSING ${answered - viaLogs} records`;
  return `EXTRA ${viaLogs - sent} records beyond the requests sent`;
}

/** The load at each connection count; resolves to the 2xx replies and requests sent over the Ferry's life. */
async function loadFerry(ferry: Ferry, round: number, mode: ModeName, part: ThroughputPart): Promise<{ answered: number; sent: number }> {
  const url = `${ferry.url}/infer`;
  part.checkValues.push(await checkReply(url, houseBody, houseHeaders));
  let answered = 1;
  let sent = 1;
  for (const connections of concurrencies) {
    progress(`round ${round}, log records ${mode}: ${connections} connection(s), ${timing.warmupSeconds} s warm-up + ${timing.seconds} s`);
    const c = await measureCounted({ url, body: houseBody, headers: houseHeaders, connections, seconds: timing.seconds, warmupSeconds: timing.warmupSeconds, procs: ferry.procs });
    part.runs.push({ round, mode, run: c.run });
    answered += c.ok;
    sent += c.sent;
  }
  return { answered, sent };
}

/** Counts what the Ferry stored: every answered request's record for an "on" mode, nothing for "off". */
async function checkStored(ferry: Ferry, round: number, mode: LogMode, counts: { answered: number; sent: number }, part: ThroughputPart): Promise<void> {
  await withJet(ferry.natsUrl, async (jet) => {
    await waitForStream(jet.jsm);
    await waitForQuietStream(jet.jsm);
    const viaNats = await countViaNats(jet);
    if (!mode.records) {
      part.offStored.push(viaNats.messages);
      return;
    }
    progress(`round ${round}, ${mode.name}: counting stored records (POST /logs pages of 10,000, and the stream's Ferry-Records headers)`);
    const viaLogs = await countViaHttp(ferry.url);
    part.checks.push({
      round, mode: mode.name, ...counts, storedViaLogs: viaLogs.records, logsPages: viaLogs.pages, logsCountMs: viaLogs.ms,
      storedViaNats: viaNats.records, streamMessages: viaNats.messages, streamBytes: viaNats.bytes,
      verdict: verdictOf(counts.answered, counts.sent, viaLogs.records, viaNats.records),
    });
  });
}

async function runMode(round: number, mode: LogMode, part: ThroughputPart): Promise<void> {
  progress(`round ${round}, log records ${mode.name}: starting Ferry (${mode.args.join(" ")})`);
  const ferry = await startFerry(`log records ${mode.name}`, paths.houseManifest, pipelines.house, mode.args);
  try {
    const counts = await loadFerry(ferry, round, mode.name, part);
    part.memory.push({ round, mode: mode.name, memory: memoryOf(ferry.procs) });
    // A failed count is reported, not fatal: on this shared machine a neighbour's cleanup has taken a server down.
    await checkStored(ferry, round, mode, counts, part).catch((err: unknown) => {
      const gone = ferry.procs.filter((p) => !existsSync(`/proc/${p.pid}`)).map((p) => p.label);
      const verdict = `COUNT FAILED: ${String(err)}${gone.length ? `; gone by then: ${gone.join(", ")}` : ""}`;
      progress(`round ${round}, ${mode.name}: ${verdict}`);
      part.failures.push({ round, mode: mode.name, verdict });
    });
  } finally {
    await ferry.stop();
  }
}

function ratioOf(part: ThroughputPart, connections: number, runs: "all" | "quiet", of: ModeName, vs: ModeName, rounds: number): ModeRatio {
  const pick = (mode: ModeName): HttpRun[] => part.runs
    .filter((r) => r.mode === mode && r.run.connections === connections && (runs === "all" || otherPct(r.run) <= noisyPct))
    .map((r) => r.run);
  const [a, b] = [pick(of), pick(vs)];
  const ofRps = median(a.map((r) => r.rps));
  const vsRps = median(b.map((r) => r.rps));
  const inRound = (round: number, mode: ModeName): HttpRun | undefined => part.runs.find((r) => r.round === round && r.mode === mode && r.run.connections === connections)?.run;
  const perRound = Array.from({ length: rounds }, (_, i) => (inRound(i + 1, of)?.rps ?? Number.NaN) / (inRound(i + 1, vs)?.rps ?? Number.NaN));
  return {
    connections, runs, of, vs, ofRuns: a.length, vsRuns: b.length, ofRps, vsRps, ratio: ofRps / vsRps, perRound,
    ofP50Ms: median(a.map((r) => r.latency.p50Ms)), vsP50Ms: median(b.map((r) => r.latency.p50Ms)),
  };
}

/** The pairs reported: each "on" mode against off, and sync always against 2m. */
export const comparedPairs: readonly (readonly [ModeName, ModeName])[] = [["on-always", "off"], ["on-async", "off"], ["on-always", "on-async"], ["on-2m", "off"], ["on-always", "on-2m"]];

/** `rounds` rounds of every mode, every other round in reverse order (a drift of the machine's load falls on all alike). */
export async function throughputPart(rounds: number): Promise<ThroughputPart> {
  const part: ThroughputPart = { modes: logModes, runs: [], ratios: [], checks: [], offStored: [], checkValues: [], failures: [], memory: [] };
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 === 1 ? logModes : [...logModes].reverse();
    for (const mode of order) await runMode(round, mode, part);
  }
  for (const runs of ["all", "quiet"] as const) {
    for (const connections of concurrencies) {
      for (const [of, vs] of comparedPairs) part.ratios.push(ratioOf(part, connections, runs, of, vs, rounds));
    }
  }
  return part;
}
