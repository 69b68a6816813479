// Settings of bench/sync.ts (environment knobs are listed in its header).
import type { LeafCompression } from "@ferry/natsd";
import { envNumber, pipelines } from "./config.js";

const whole = (name: string, fallback: number): number => Math.max(1, Math.round(envNumber(name, fallback)));

/** Knobs of the sync bench. */
export const syncSettings = {
  /** Records written while the hub is down, per round. */
  records: whole("SYNC_RECORDS", 100_000),
  /** Records per JetStream message (the LogPublisher batches what arrives within 50 ms, up to 1000). */
  perMessage: whole("SYNC_PER_MESSAGE", 100),
  /** Publishes awaiting their ack at once (the LogPublisher's default). */
  inFlight: whole("SYNC_PUBLISHES_IN_FLIGHT", 256),
  /** Rounds of each leaf compression mode (alternated; every other cycle in reverse order). */
  rounds: whole("SYNC_ROUNDS", 3),
  /** Rounds of each leaf link (TLS, plain) in the TLS vs plain comparison. */
  pairRounds: whole("SYNC_PAIR_ROUNDS", 3),
  /** Edges started from a bundle to time the join with TLS. */
  joins: Math.max(0, Math.round(envNumber("SYNC_JOINS", 3))),
  /** A catch-up that makes no progress for this long fails the bench, s. */
  stallSeconds: envNumber("SYNC_STALL_SECONDS", 60),
  /** How often the hub's stream state is read during catch-up, ms. */
  pollMs: 50,
};

/**
 * The edge's leaf remote compression, one per round in turn: Ferry's s2_auto (which on loopback does not
 * compress: it picks the level by round-trip time), s2_best forced, and none. SYNC_COMPRESSIONS (comma-
 * separated) picks others; the last one is the baseline the byte ratios are taken against.
 */
export const compressions: readonly LeafCompression[] = compressionList(process.env.SYNC_COMPRESSIONS || "s2_auto,s2_best,off");

function compressionList(raw: string): LeafCompression[] {
  const known: readonly string[] = ["s2_auto", "s2_fast", "s2_better", "s2_best", "off"];
  const list = raw.split(",").map((x) => x.trim());
  const bad = list.filter((x) => !known.includes(x));
  if (bad.length || !list.length) throw new Error(`SYNC_COMPRESSIONS: unknown mode(s) ${bad.join(", ")}; known: ${known.join(", ")}`);
  return list as LeafCompression[];
}

/** The compression of each round, rounds numbered from 1: cycles of `compressions`, every other reversed. */
export function compressionOf(round: number): LeafCompression {
  const cycle = Math.floor((round - 1) / compressions.length);
  const order = cycle % 2 === 0 ? compressions : [...compressions].reverse();
  return order[(round - 1) % compressions.length]!;
}

/** Rounds in all: `rounds` of each compression mode. */
export const totalRounds = syncSettings.rounds * compressions.length;

/** The settings as the summary records them. */
export type SyncSettings = typeof syncSettings;

/** Names of the bench's edge, its pipeline and the pipeline's model. */
export const syncNames = { edge: "bench-edge", pipeline: pipelines.house, model: "house-price-estimator" };
