// Settings of bench/devices.ts: run lengths (environment knobs), the batching modes it alternates and
// the two device workloads.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { inferSubject } from "@ferry/contracts";
import { arrowHeaders, envNumber, houseBody, houseHeaders, paths, pipelines, repoRoot } from "./config.js";

/** Run lengths and sizes; each has an environment knob (DEVICES_*) for longer or shorter runs. */
export const devicesSettings = {
  /** Device connections, each one closed loop. */
  devices: Math.round(envNumber("DEVICES_CONNECTIONS", 64)),
  /** Rounds of every batching mode (the second round runs the modes in reverse order). */
  rounds: Math.round(envNumber("DEVICES_ROUNDS", 2)),
  seconds: envNumber("DEVICES_SECONDS", 8),
  warmupSeconds: envNumber("DEVICES_WARMUP_SECONDS", 1),
  /** Durable requests per durable phase. */
  durableRequests: Math.round(envNumber("DEVICES_DURABLE_REQUESTS", 5000)),
  /** Durable publishes awaiting their JetStream ack at once. */
  publishesInFlight: Math.round(envNumber("DEVICES_PUBLISHES_IN_FLIGHT", 256)),
  requestTimeoutMs: 20_000,
  /** A durable phase with no new result for this long is reported as stalled. */
  stallMs: 30_000,
};

/** How the inferer child batches: `ferry start` flags. */
export interface BatchMode {
  label: string;
  flags: string[];
}

/** Off, on with a 2 ms window, on with window 0 (what arrived together), at most 64 per run. */
export const batchModes: readonly BatchMode[] = [
  { label: "off", flags: [] },
  { label: "on 2 ms", flags: ["--batch-window", "2", "--batch-max", "64"] },
  { label: "on 0 ms", flags: ["--batch-window", "0", "--batch-max", "64"] },
];

/** What every device sends, request after request. */
export interface Workload {
  label: string;
  pipeline: string;
  subject: string;
  contentType: string;
  body: string | Uint8Array;
}

/** The image classifier with the 224×224 Arrow file, and house price with one pandas-records row. */
export async function loadWorkloads(): Promise<Workload[]> {
  return [
    {
      label: "image classifier", pipeline: pipelines.cv, subject: inferSubject(pipelines.cv),
      contentType: arrowHeaders["content-type"], body: new Uint8Array(await readFile(paths.imageArrow)),
    },
    {
      label: "house price", pipeline: pipelines.house, subject: inferSubject(pipelines.house),
      contentType: houseHeaders["content-type"], body: houseBody,
    },
  ];
}

/** Child entry that runs `ferry start` and answers {@link statsSubject}. */
export const infererEntry = join(repoRoot, "bench", "dist", "helpers", "devices-inferer.js");

/** Subject on which the bench's inferer child answers its counters (`ferry.status` has none). */
export const statsSubject = "ferry-bench.inferer.stats";

/** Labels of the processes whose CPU each run reports. */
export const procLabels = { bench: "bench (devices)", inferer: "inferer", nats: "nats-server" } as const;
