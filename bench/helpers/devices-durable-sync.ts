// Part 2 of bench/devices.ts against the server's disk sync: the durable live and backlog phases, each
// pair on a fresh nats-server with `jetstream.sync_interval` always (Ferry's default: every write on disk
// before its ack) or 2m (nats-server's default), alternated in rounds, and the always ÷ 2m ratios.
import { connect } from "@nats-io/transport-node";
import { devicesSettings } from "./devices-config.js";
import { durableBacklog, durableLive, type DurablePhase } from "./devices-durable.js";
import { startBenchNats } from "./devices-site.js";
import { progress } from "./machine.js";
import { Cleanup } from "./procs.js";
import { median } from "./stats.js";

/** The sync intervals compared; the first is the ratios' numerator. */
export const syncIntervals = ["always", "2m"] as const;

export interface DurableSyncRound {
  round: number;
  syncInterval: string;
  live: DurablePhase;
  backlog: DurablePhase;
}

/** always ÷ 2m of one figure: each round's, and the medians'. */
export interface SyncRatio {
  figure: string;
  always: number;
  twoMinutes: number;
  ratio: number;
  perRound: number[];
}

export interface DurableSyncPart {
  rounds: DurableSyncRound[];
  ratios: SyncRatio[];
}

/** One live and one backlog phase on a fresh server with `syncInterval`. */
async function onFreshServer(round: number, syncInterval: string): Promise<DurableSyncRound> {
  const cleanup = new Cleanup();
  try {
    const nats = await startBenchNats(cleanup, syncInterval);
    const nc = await connect({ servers: nats.url, name: "ferry-bench-devices-durable" });
    cleanup.defer(() => nc.close());
    progress(`durable by sync interval, round ${round}: nats-server ${nats.url} with sync_interval ${syncInterval}`);
    const live = await durableLive({ nats, nc });
    const backlog = await durableBacklog({ nats, nc });
    return { round, syncInterval, live, backlog };
  } finally {
    await cleanup.run();
  }
}

const figures: readonly [string, (r: DurableSyncRound) => number][] = [
  ["live results/s", (r) => r.live.resultsPerS],
  ["live submit acks/s", (r) => r.live.submit.acksPerS],
  ["backlog submit acks/s", (r) => r.backlog.submit.acksPerS],
  ["backlog drain results/s", (r) => r.backlog.resultsPerS],
  ["backlog flowing results/s", (r) => r.backlog.flowingPerS],
];

function ratiosOf(rounds: readonly DurableSyncRound[]): SyncRatio[] {
  const [a, b] = syncIntervals;
  return figures.map(([figure, f]) => {
    const of = (s: string): DurableSyncRound[] => rounds.filter((r) => r.syncInterval === s);
    const [always, twoMinutes] = [median(of(a).map(f)), median(of(b).map(f))];
    const perRound = of(a).map((r) => {
      const other = of(b).find((x) => x.round === r.round);
      return other ? f(r) / f(other) : Number.NaN;
    });
    return { figure, always, twoMinutes, ratio: always / twoMinutes, perRound };
  });
}

/** DEVICES_ROUNDS rounds of both intervals, the second round in reverse order. */
export async function durableBySync(): Promise<DurableSyncPart> {
  const rounds: DurableSyncRound[] = [];
  for (let round = 1; round <= devicesSettings.rounds; round++) {
    const order = round % 2 === 1 ? syncIntervals : [...syncIntervals].reverse();
    for (const s of order) rounds.push(await onFreshServer(round, s));
  }
  return { rounds, ratios: ratiosOf(rounds) };
}
