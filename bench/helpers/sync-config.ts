// Settings of bench/sync.ts (environment knobs are listed in its header).
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
  rounds: whole("SYNC_ROUNDS", 3),
  /** A catch-up that makes no progress for this long fails the bench, s. */
  stallSeconds: envNumber("SYNC_STALL_SECONDS", 60),
  /** How often the hub's stream state is read during catch-up, ms. */
  pollMs: 50,
};

/** The settings as the summary records them. */
export type SyncSettings = typeof syncSettings;

/** Names of the bench's edge, its pipeline and the pipeline's model. */
export const syncNames = { edge: "bench-edge", pipeline: pipelines.house, model: "house-price-estimator" };
