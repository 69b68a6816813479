// Helpers of bench/sync.ts: one round. The hub stops (keeping its data); the edge writes N records into
// FERRY_LOGS the way the inferer's LogPublisher does (acked, batched messages); the hub starts again on
// the same ports and data, and the time until FERRY_LOGS_ALL holds every message is taken; then the hub's
// copy is checked against the edge's.
import { setTimeout as sleep } from "node:timers/promises";
import { LogStream, logSubject } from "@ferry/contracts";
import { paths } from "./config.js";
import { cpuWindow, type CpuShare } from "./load.js";
import { fillLogs } from "./logs-fill.js";
import { progress } from "./machine.js";
import { cpuTicks, ticksPerSecond, type Proc } from "./procs.js";
import type { LeafCompression } from "@ferry/natsd";
import { compressionOf, syncNames, syncSettings, totalRounds } from "./sync-config.js";
import { waitForLink, type BenchEdge } from "./sync-edge.js";
import type { Hub } from "./sync-hub.js";
import { acceptedAt, leafLinkBytes, leafLinkMode, type LinkBytes, type LinkMode } from "./sync-link.js";
import { verifySync, type SyncCheck } from "./sync-verify.js";
import type { WarningKind, Warnings } from "./sync-warnings.js";
import { waitForHub, type HubWatch, type Sample } from "./sync-watch.js";

/** The edge's local, acknowledged write of one round's records. */
export interface WriteFigures {
  records: number;
  messages: number;
  seconds: number;
  recordsPerS: number;
  /** Bytes FERRY_LOGS grew by. */
  bytes: number;
  cpu: CpuShare[];
}

/** The hub's catch-up, timed from the call that starts it. Stored times are the hub server's clock. */
export interface CatchUpFigures {
  /** The hub's nats-server took a TCP connection on its client port (10 ms polls). */
  acceptS: number;
  /** Ops, its nats-server, the deployer and the logger started. */
  hubReadyS: number;
  /** An edge heartbeat crossed the leaf link and Ops answered it (polled every 100 ms). */
  linkUpS: number;
  /** The first message of the round stored in FERRY_LOGS_ALL. */
  firstMessageS: number;
  /** firstMessageS − acceptS: from the server taking connections to the first synced message. */
  firstAfterAcceptS: number;
  /** The round's last message stored. */
  allInS: number;
  /** Records after the first message ÷ the time from the first to the last message. */
  recordsPerS: number;
  /** All the round's records ÷ allInS (start-up included). */
  fromStartRecordsPerS: number;
  /** The round's FERRY_LOGS bytes ÷ the time from the first to the last message, MB (10^6) per s. */
  mbPerS: number;
  /** Longest time between first and last message that the count did not move (seen by polls). */
  longestPauseS: number;
  samples: Sample[];
  cpu: CpuShare[];
  /** What the leaf link carried from its reconnection up to the last message stored. */
  link: LinkBytes;
  /** The compression the edge's server says its link runs with then. */
  linkMode: LinkMode;
}

/** One round's figures and checks. */
export interface RoundResult {
  round: number;
  /** The edge's leaf remote compression this round. */
  compression: LeafCompression;
  write: WriteFigures;
  catchUp: CatchUpFigures;
  /** Catch-up records/s ÷ edge write records/s. */
  ratio: number;
  check: SyncCheck;
  warnings: { offline: WarningKind[]; catchUp: WarningKind[] };
}

/** What a round works on. */
export interface RoundContext {
  hub: Hub;
  /** The edge; replaced by `restartEdge` when a round needs another compression. */
  edge: BenchEdge;
  /** Stops the edge's server and starts it again on its data with this leaf compression. */
  restartEdge(compression: LeafCompression): Promise<BenchEdge>;
  watch: HubWatch;
  pipelineVersion: string;
  warnings: Warnings;
  /** Records the edge wrote before this round (warm-up and earlier rounds). */
  recordsBefore: number;
}

const bench = (label: string): Proc => ({ label, pid: process.pid, node: true });

/** Writes `records` records into the edge's FERRY_LOGS, in messages of `syncSettings.perMessage`. */
export async function writeEdgeRecords(edge: BenchEdge, pipelineVersion: string, records: number): Promise<WriteFigures> {
  const bytesBefore = (await edge.jet.jsm.streams.info(LogStream)).state.bytes;
  const closeCpu = cpuWindow([bench("bench (record writer)"), edge.proc]);
  const fill = await fillLogs(edge.jet, {
    records, perMessage: syncSettings.perMessage, inFlight: syncSettings.inFlight,
    subject: logSubject(syncNames.pipeline, syncNames.edge), modelName: syncNames.model, modelFile: paths.houseModel,
    pipelineVersion, partition: syncNames.edge,
  });
  return { records: fill.records, messages: fill.messages, seconds: fill.seconds, recordsPerS: fill.recordsPerS, bytes: fill.streamBytes - bytesBefore, cpu: await closeCpu() };
}

/** Closes a CPU window and adds the hub's nats-server, born inside it (all its CPU time falls in the window). */
async function closeWithHub(close: () => Promise<CpuShare[]>, hubNats: Proc, seconds: number): Promise<CpuShare[]> {
  const hubTicks = cpuTicks(hubNats.pid).total;
  const shares = await close();
  const hubPct = Math.round((hubTicks / (await ticksPerSecond()) / seconds) * 1000) / 10;
  const other = shares.pop()!;
  return [...shares, { label: hubNats.label, totalPct: hubPct }, { ...other, totalPct: Math.max(0, Math.round((other.totalPct - hubPct) * 10) / 10) }];
}

/** Longest gap between polls that saw the count move, once the round's first message was in. */
function longestPause(samples: readonly Sample[], firstNew: number): number {
  const moving = samples.filter((s) => s.messages >= firstNew);
  let longest = 0;
  for (let i = 1; i < moving.length; i++) longest = Math.max(longest, moving[i]!.ms - moving[i - 1]!.ms);
  return longest / 1000;
}

/** Starts the hub, which held `before` messages, and waits until it holds the round's messages too. */
async function catchUp(ctx: RoundContext, before: number, write: WriteFigures): Promise<CatchUpFigures> {
  const target = before + write.messages;
  const wallStart = Date.now();
  const t0 = performance.now();
  const closeCpu = cpuWindow([bench("bench (Ops, deployer, hub logger, poller)"), ctx.edge.proc]);
  const accepted = acceptedAt(ctx.hub.natsPort, syncSettings.stallSeconds * 1000);
  const link = waitForLink(ctx.edge.jet.nc, syncNames.edge, syncSettings.stallSeconds * 1000).then((ms) => ms / 1000, () => Number.NaN);
  const running = await ctx.hub.start();
  const hubReadyS = (performance.now() - t0) / 1000;
  progress(`  hub up in ${hubReadyS.toFixed(2)} s; waiting for ${target.toLocaleString("en-US")} messages in FERRY_LOGS_ALL`);
  const samples = await waitForHub(ctx.watch, target, t0, { pollMs: syncSettings.pollMs, stallMs: syncSettings.stallSeconds * 1000 });
  const bytes = await leafLinkBytes(ctx.hub.leafPort);
  const linkMode = await leafLinkMode(ctx.edge.monitorPort);
  const cpu = await closeWithHub(closeCpu, running.nats, (performance.now() - t0) / 1000);
  const [firstAt, lastAt, linkUpS, acceptAt] = [await ctx.watch.storedAt(before + 1), await ctx.watch.storedAt(target), await link, await accepted];
  const streamingS = (lastAt - firstAt) / 1000;
  const perS = (x: number, s: number): number => (s > 0 ? x / s : Number.NaN);
  return {
    acceptS: (acceptAt - wallStart) / 1000, hubReadyS, linkUpS, firstMessageS: (firstAt - wallStart) / 1000,
    firstAfterAcceptS: (firstAt - acceptAt) / 1000, allInS: (lastAt - wallStart) / 1000,
    recordsPerS: perS(write.records - Math.min(syncSettings.perMessage, write.records), streamingS),
    fromStartRecordsPerS: perS(write.records, (lastAt - wallStart) / 1000),
    mbPerS: perS(write.bytes / 1e6, streamingS), longestPauseS: longestPause(samples, before + 1), samples, cpu, link: bytes, linkMode,
  };
}

/** One round; the hub must be running and in step with the edge. */
export async function runRound(ctx: RoundContext, round: number): Promise<RoundResult> {
  const before = await ctx.watch.state();
  if (!before) throw new Error("the hub does not answer before the round");
  const compression = compressionOf(round);
  progress(`round ${round}/${totalRounds}, leaf compression ${compression}: hub stopped; the edge writes ${syncSettings.records.toLocaleString("en-US")} records offline`);
  await ctx.hub.stop();
  if (ctx.edge.compression !== compression) ctx.edge = await ctx.restartEdge(compression);
  const write = await writeEdgeRecords(ctx.edge, ctx.pipelineVersion, syncSettings.records);
  const offline = ctx.warnings.take();
  progress(`  written in ${write.seconds.toFixed(2)} s (${Math.round(write.recordsPerS).toLocaleString("en-US")} records/s); starting the hub`);
  const figures = await catchUp(ctx, before.messages, write);
  progress(`  server accepting at ${figures.acceptS.toFixed(2)} s, first sourced message ${figures.firstAfterAcceptS.toFixed(2)} s later, all in at ${figures.allInS.toFixed(2)} s: ${Math.round(figures.recordsPerS).toLocaleString("en-US")} records/s`);
  await sleep(1000); // a late duplicate would show in the check
  const check = await verifySync(ctx.watch.jet, ctx.edge.jet, ctx.recordsBefore + write.records);
  progress(`  check: ${check.ok ? "every message once, in order" : `FAILED ${JSON.stringify(check)}`}`);
  return { round, compression, write, catchUp: figures, ratio: figures.recordsPerS / write.recordsPerS, check, warnings: { offline, catchUp: ctx.warnings.take() } };
}
