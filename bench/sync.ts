// Ferry sync bench: how fast the Ops hub catches up log records that an edge wrote while the hub was
// down, as records/s, next to the edge's own local write rate in the same run.
// Setup: an Ops hub on fixed free loopback ports in a temp dir, run in this process as `ferry start ops`
// runs it (Ops API, deployer, hub-mode logger on FERRY_LOGS_ALL; its nats-server is a child). What is
// measured is nats-server's sourcing (FERRY_LOGS_ALL sources the edge's FERRY_LOGS through
// `$JS.<edge>.API` across the leaf link), which the hub's Node services take no part in. The house-price
// pipeline is published, one edge is added and joined, and its nats-server (a child: JetStream domain =
// its name, a leaf link with the joined credentials) holds FERRY_LOGS. One warm-up message proves the sync.
// Each round: the hub stops (data kept); the edge writes SYNC_RECORDS records in the inferer's format
// (bench/helpers/logs-fill.ts: the LogPublisher's batched, acked messages with `Ferry-Records`), timed as
// the edge's write rate; the hub starts again and the time until FERRY_LOGS_ALL holds every message is
// taken from the hub's own store timestamps; then every message's origin sequence and record count is
// checked. Records are synthetic, not inferences: 100,000 inferences would take this 2-core machine
// longer than the sync, and the write rate would be the inferer's rather than the edge's store's.
// Rounds cycle through the edge's leaf remote compression (SYNC_COMPRESSIONS: s2_auto, s2_best, off; the
// edge's server restarts on its data while the hub is down when the mode changes), and each round reports
// the bytes the link carried (the edge socket's TCP counters) and the time from the restarted hub server
// taking connections to the first synced message.
// The hub speaks only TLS (its own CA: the edge's leaf remote and the bench's connections check it; the
// Ops API over HTTPS with the admin token). Then catch-up over a TLS leaf link vs a plain one: the hub has
// no plain mode, so both are bare nats-server pairs set up as Ferry sets up a hub and an edge
// (helpers/sync-pair.ts), rounds alternated. Last, join time with TLS: `ferry start --bundle` of new edges,
// to the link up and the first answered /infer (helpers/sync-join.ts).
// Default length about two and a half minutes (9 rounds, 6 pair rounds, 3 joins).
// Run: npm run bench:sync   (or: npx tsc -b && node bench/dist/sync.js)
// Knobs: SYNC_RECORDS (100000), SYNC_PER_MESSAGE (100), SYNC_PUBLISHES_IN_FLIGHT (256), SYNC_ROUNDS (3 of
//        each compression), SYNC_COMPRESSIONS (s2_auto,s2_best,off; the last is the byte ratios' baseline),
//        SYNC_PAIR_ROUNDS (3 of each link, TLS and plain), SYNC_JOINS (3), SYNC_STALL_SECONDS (60)
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { paths } from "./helpers/config.js";
import { describeMachine, progress } from "./helpers/machine.js";
import { benchMain } from "./helpers/main.js";
import { Cleanup } from "./helpers/procs.js";
import type { LeafCompression } from "@ferry/natsd";
import { compressionOf, syncNames, syncSettings, totalRounds } from "./helpers/sync-config.js";
import { linkOf, startEdge, waitForLink, type BenchEdge, type EdgeLink } from "./helpers/sync-edge.js";
import { Hub, addAndJoinEdge, opsApi, publishHousePrice, type OpsApi } from "./helpers/sync-hub.js";
import { compareLinks } from "./helpers/sync-compare.js";
import { joinRuns } from "./helpers/sync-join.js";
import { median } from "./helpers/stats.js";
import { compressionFigures } from "./helpers/sync-report-link.js";
import { mediansOf, renderSync, writeSyncSummary, type SyncSummary } from "./helpers/sync-report.js";
import { runRound, writeEdgeRecords, type RoundResult } from "./helpers/sync-round.js";
import { Warnings } from "./helpers/sync-warnings.js";
import { HubWatch, waitForHub } from "./helpers/sync-watch.js";

/** The bench's edge: the one running now, and how to start it again with another leaf compression. */
class EdgeSlot {
  constructor(public edge: BenchEdge, readonly link: EdgeLink, readonly dir: string, readonly warnings: Warnings) {}

  async restart(compression: LeafCompression): Promise<BenchEdge> {
    await this.edge.stop();
    this.edge = await startEdge(syncNames.edge, this.link, this.dir, this.warnings.natsSink("edge nats-server"), compression);
    return this.edge;
  }
}

/** The hub with the pipeline published, and the joined edge linked to it. */
async function setUp(cleanup: Cleanup, warnings: Warnings): Promise<{ hub: Hub; slot: EdgeSlot; watch: HubWatch; pipelineVersion: string; linkUpS: number; dir: string; api: OpsApi }> {
  const dir = await mkdtemp(join(tmpdir(), "ferry-bench-sync-"));
  cleanup.defer(() => rm(dir, { recursive: true, force: true }));
  const hub = await Hub.create(join(dir, "hub"), warnings.logger("hub"));
  cleanup.defer(() => hub.stop());
  const { ops } = await hub.start();
  progress(`hub: Ops ${ops.url}, nats-server ${ops.natsUrl}, leaf port ${ops.leafPort}`);
  const api = opsApi(ops, hub.adminToken);
  const pipelineVersion = await publishHousePrice(api, syncNames.pipeline, syncNames.model);
  const link = linkOf(await addAndJoinEdge(api, syncNames.edge, syncNames.pipeline), hub.caFile);
  const edge = await startEdge(syncNames.edge, link, join(dir, "edge"), warnings.natsSink("edge nats-server"), compressionOf(1));
  const slot = new EdgeSlot(edge, link, join(dir, "edge"), warnings);
  cleanup.defer(() => slot.edge.stop());
  const linkUpS = (await waitForLink(edge.jet.nc, syncNames.edge, 30_000)) / 1000;
  progress(`edge ${syncNames.edge} joined (${edge.server.url}); link up in ${linkUpS.toFixed(2)} s`);
  const watch = await HubWatch.open(ops);
  cleanup.defer(() => watch.close());
  return { hub, slot, watch, pipelineVersion, linkUpS, dir, api };
}

/** The hub's median catch-up records/s over its s2_auto rounds (the pairs' compression), else over all. */
function hubCatchUp(rounds: readonly RoundResult[]): number {
  const auto = rounds.filter((r) => r.compression === "s2_auto");
  return median((auto.length ? auto : rounds).map((r) => r.catchUp.recordsPerS));
}

async function run(cleanup: Cleanup): Promise<SyncSummary> {
  const startedAt = new Date().toISOString();
  const machine = await describeMachine();
  const warnings = new Warnings();
  const { hub, slot, watch, pipelineVersion, linkUpS, dir, api } = await setUp(cleanup, warnings);
  const warmupRecords = syncSettings.perMessage;
  await writeEdgeRecords(slot.edge, pipelineVersion, warmupRecords);
  await waitForHub(watch, 1, performance.now(), { pollMs: syncSettings.pollMs, stallMs: 30_000 });
  progress("warm-up message synced to the hub");
  const setupWarnings = warnings.take();
  const rounds: RoundResult[] = [];
  for (let round = 1; round <= totalRounds; round++) {
    const recordsBefore = warmupRecords + (round - 1) * syncSettings.records;
    const ctx = { hub, edge: slot.edge, restartEdge: (c: LeafCompression) => slot.restart(c), watch, pipelineVersion, warnings, recordsBefore };
    rounds.push(await runRound(ctx, round));
  }
  const links = await compareLinks(dir, warnings.natsSink("pair nats-server"), pipelineVersion, hubCatchUp(rounds));
  const joins = await joinRuns(api, syncNames.pipeline, syncSettings.joins);
  return {
    startedAt, machine, settings: { ...syncSettings, edge: syncNames.edge, pipeline: syncNames.pipeline, hub: "in-process Ops, deployer, logger; nats-server child" },
    setup: { linkUpS, warmupRecords, warnings: setupWarnings }, rounds, median: mediansOf(rounds), compression: compressionFigures(rounds),
    links, joins, tlsWarnings: warnings.take(), ok: rounds.every((r) => r.check.ok),
  };
}

benchMain({ name: "sync", run, render: renderSync, write: (s) => writeSyncSummary(paths.results, s), passed: (s) => s.ok, childrenFirst: true });
