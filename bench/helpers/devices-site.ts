// Helpers of bench/devices.ts: the bench's one nats-server, and inferer children started against it
// (each with its own data dir), ready once `ferry.status` reports every pipeline Running.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Empty, type NatsConnection } from "@nats-io/transport-node";
import { Subjects, type InfererStatus } from "@ferry/contracts";
import type { InfererStats } from "@ferry/inferer";
import { startNatsServer } from "@ferry/natsd";
import { paths, repoRoot } from "./config.js";
import { infererEntry, procLabels, statsSubject } from "./devices-config.js";
import { Cleanup, exited, spawnChild, type Child, type Proc } from "./procs.js";

const readyTimeoutMs = 60_000;

/** The bench's nats-server and the temp dir holding its store and the inferers' data dirs. */
export interface BenchNats {
  url: string;
  proc: Proc;
  dir: string;
}

/**
 * Starts a nats-server (JetStream, loopback, free port) with `jetstream.sync_interval` `syncInterval`
 * (default "always", as Ferry runs it); `cleanup` stops it and removes its dir.
 */
export async function startBenchNats(cleanup: Cleanup, syncInterval = "always"): Promise<BenchNats> {
  const dir = await mkdtemp(join(tmpdir(), "ferry-bench-devices-"));
  cleanup.defer(() => rm(dir, { recursive: true, force: true }));
  const nats = await startNatsServer({ dataDir: join(dir, "nats"), port: 0, host: "127.0.0.1", syncInterval });
  cleanup.defer(() => nats.stop());
  return { url: nats.url, proc: { label: procLabels.nats, pid: nats.process.pid ?? -1, node: false }, dir };
}

/** A running inferer child. */
export interface InfererChild {
  child: Child;
  /** When it was spawned (performance.now() ms). */
  spawnedAt: number;
  stop(): Promise<void>;
}

let spawned = 0;

/**
 * Spawns `ferry start inferer --nats-url … --pipeline cv-demo --pipeline houseprice --log-records off`
 * plus `flags` (through the devices-inferer entry), with its own data dir; does not wait for it.
 */
export function spawnInferer(nats: BenchNats, flags: readonly string[]): InfererChild {
  const data = join(nats.dir, `inferer-${++spawned}`);
  const spawnedAt = performance.now();
  const child = spawnChild(procLabels.inferer, process.execPath, [
    infererEntry, "start", "inferer", "--nats-url", nats.url, "--data", data,
    "--pipeline", paths.cvManifest, "--pipeline", paths.houseManifest, "--log-records", "off", "--log-level", "warn", ...flags,
  ], repoRoot);
  return { child, spawnedAt, stop: () => child.stop() };
}

/** The processes whose CPU a run reports: the bench (the devices), the inferer, nats-server. */
export function procsOf(nats: BenchNats, inferer: InfererChild): Proc[] {
  return [{ label: procLabels.bench, pid: process.pid, node: true }, inferer.child, nats.proc];
}

/** Spawns an inferer and resolves once it serves every pipeline named (stops it on failure). */
export async function startInferer(nats: BenchNats, nc: NatsConnection, flags: readonly string[], pipelines: readonly string[]): Promise<InfererChild> {
  const inferer = spawnInferer(nats, flags);
  try {
    await waitUntilServing(nc, inferer.child, pipelines);
  } catch (err) {
    await inferer.stop();
    throw err;
  }
  return inferer;
}

/** Polls `ferry.status` until an inferer reports every named pipeline Running and answers its stats; fails fast when the child exits. */
export async function waitUntilServing(nc: NatsConnection, child: Child, pipelines: readonly string[]): Promise<void> {
  const deadline = Date.now() + readyTimeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    if (exited(child)) throw new Error(`${child.label} exited before it was ready:\n${child.output()}`);
    try {
      const status = (await nc.request(Subjects.status, Empty, { timeout: 1000 })).json<InfererStatus>();
      last = JSON.stringify(status.pipelines.map((p) => [p.id, p.status]));
      // The stats subject answers once `ferry start` has finished starting.
      if (pipelines.every((n) => status.pipelines.some((p) => p.id === n && p.status === "Running")) && await infererStats(nc)) return;
    } catch (err) {
      last = String(err); // no inferer listening yet
    }
    await sleep(100);
  }
  throw new Error(`no inferer reported ${pipelines.join(", ")} Running within ${readyTimeoutMs} ms: ${last}\n${child.output()}`);
}

/** The running inferer's counters. */
export async function infererStats(nc: NatsConnection): Promise<InfererStats> {
  return (await nc.request(statsSubject, Empty, { timeout: 5000 })).json<InfererStats>();
}
