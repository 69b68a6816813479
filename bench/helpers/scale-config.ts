// Settings of bench/scale.ts: run lengths and sizes (SCALE_* environment knobs), the worker counts it
// alternates, the targets of the issue, and the labels of the processes it reports.
import { envNumber } from "./config.js";

/** `--soak-only`: skip parts 1 and 2 and run only the soak. */
export const soakOnly = process.argv.slice(2).includes("--soak-only");

/** Seconds from `name`, where an explicit 0 is allowed (it turns the part off). */
function envSeconds(name: string, fallback: number): number {
  return process.env[name]?.trim() === "0" ? 0 : envNumber(name, fallback);
}

/** Run lengths and sizes; each has an environment knob (SCALE_*) for longer or shorter runs. */
export const scaleSettings = {
  /** Rounds of part 1; odd rounds run 1 then 2 workers, even rounds 2 then 1. */
  rounds: Math.round(envNumber("SCALE_ROUNDS", 2)),
  /** Measured seconds of each part-1 load, after its warm-up. */
  seconds: envNumber("SCALE_SECONDS", 6),
  warmupSeconds: envNumber("SCALE_WARMUP_SECONDS", 1),
  /** NATS device connections, each one closed loop. */
  devices: Math.round(envNumber("SCALE_DEVICES", 64)),
  /** autocannon connections of the part-1 HTTP run. */
  httpConnections: Math.round(envNumber("SCALE_HTTP_CONNECTIONS", 32)),
  /** Part 2: seconds of steady load on the embedded site, and its HTTP connections. */
  steadySeconds: envNumber("SCALE_STEADY_SECONDS", 60),
  steadyConnections: Math.round(envNumber("SCALE_STEADY_CONNECTIONS", 16)),
  /** Pause between the sequential image requests that trickle in during parts 2 and 3, ms. */
  imageIntervalMs: envNumber("SCALE_IMAGE_INTERVAL_MS", 200),
  /** Part 3: seconds of soak; 0 skips it (the default, except with --soak-only: 300). */
  soakSeconds: envSeconds("SCALE_SOAK_SECONDS", soakOnly ? 300 : 0),
  /** RSS sampling period of part 1 and of parts 2–3, ms. */
  loadSampleMs: 250,
  steadySampleMs: 1000,
  /** Window at each end of a steady run for the RSS trend, and samples before it left out of the slope, s. */
  trendWindowS: 10,
  requestTimeoutMs: 20_000,
};

/** What the issue asks for. */
export const targets = {
  /** Image classifier req/s with 2 workers ÷ with 1. */
  classifierRatio: 1.6,
  /** nats-server plus the Ferry process, RSS at steady load, MB (10^6 bytes). */
  siteMB: 400,
};

/** Worker counts of part-1 round `round` (1-based): 1, 2 in odd rounds and 2, 1 in even ones. */
export function workersOfRound(round: number): number[] {
  return round % 2 === 1 ? [1, 2] : [2, 1];
}

/** Labels of the processes the bench reports. */
export const scaleLabels = {
  bench: "bench (load)",
  nats: "nats-server",
  inferer: "inferer",
  gateway: "gateway",
  oneProcess: "ferry (one process)",
  site: "ferry (embedded site)",
  siteTotal: "site total",
} as const;
