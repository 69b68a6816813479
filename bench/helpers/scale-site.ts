// Helpers of bench/scale.ts, part 1: Ferry children started with the CLI against the bench's one
// nats-server — an inferer process with N worker threads, a gateway, and the whole site in one process —
// each with its own data dir, ready once it serves both pipelines.
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Empty, type NatsConnection } from "@nats-io/transport-node";
import { Subjects, type InfererStatus } from "@ferry/contracts";
import { provision, siteAssets, storageSettings } from "@ferry/runtime";
import { paths, pipelines, repoRoot } from "./config.js";
import type { BenchNats } from "./devices-site.js";
import { waitForPipeline } from "./ferry-ready.js";
import { Cleanup, exited, freePort, spawnChild, type Child } from "./procs.js";
import { scaleLabels } from "./scale-config.js";

const readyTimeoutMs = 60_000;
const served = [pipelines.cv, pipelines.house];
const manifestFlags = ["--pipeline", paths.cvManifest, "--pipeline", paths.houseManifest];
/** The inferer children also serve the compute-bound classifier (models/README.md). */
const infererServed = [...served, pipelines.cvHeavy];
const infererManifestFlags = [...manifestFlags, "--pipeline", paths.cvHeavyManifest];

/** A Ferry child serving HTTP. */
export interface HttpChild {
  child: Child;
  url: string;
}

/**
 * Provisions the site's streams and buckets with the CLI's default bounds, as `ferry start` does: an
 * inferer started on a site without FERRY_LOGS has nowhere to store its log records and would retry and
 * buffer them.
 */
export async function provisionSite(nc: NatsConnection): Promise<void> {
  await provision(nc, siteAssets(storageSettings()));
}

let spawned = 0;

/** `node cli/dist/main.js start ARGS --data <own dir> --log-level warn`, stopped by `cleanup`. */
function spawnFerry(label: string, nats: BenchNats, args: readonly string[], cleanup: Cleanup): Child {
  const data = join(nats.dir, `ferry-${++spawned}`);
  const child = spawnChild(label, process.execPath, [
    paths.cliMain, "start", ...args, "--nats-url", nats.url, "--data", data, "--log-level", "warn",
  ], repoRoot);
  cleanup.defer(() => child.stop());
  return child;
}

/** How many inferers answer `ferry.status` with every pipeline in `names` Running. */
async function runningInferers(nc: NatsConnection, names: readonly string[]): Promise<number> {
  let n = 0;
  const replies = await nc.requestMany(Subjects.status, Empty, { strategy: "stall", stall: 100, maxWait: 1000 });
  for await (const msg of replies) {
    const status = msg.json<InfererStatus>();
    if (names.every((id) => status.pipelines.some((p) => p.id === id && p.status === "Running"))) n++;
  }
  return n;
}

/** Polls `ferry.status` until `workers` inferers serve both pipelines; fails fast when the child exits. */
async function waitForInferers(nc: NatsConnection, child: Child, workers: number): Promise<void> {
  const deadline = Date.now() + readyTimeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    if (exited(child)) throw new Error(`${child.label} exited before it was ready:\n${child.output()}`);
    try {
      const n = await runningInferers(nc, infererServed);
      if (n >= workers) return;
      last = `${n} of ${workers} inferers serving`;
    } catch (err) {
      last = String(err); // no inferer listening yet
    }
    await sleep(100);
  }
  throw new Error(`${child.label}: ${last} after ${readyTimeoutMs} ms\n${child.output()}`);
}

/** `ferry start inferer --workers N --threads T --log-records on` serving both classifiers and house price. */
export async function startInfererChild(nats: BenchNats, nc: NatsConnection, workers: number, threads: number, cleanup: Cleanup): Promise<Child> {
  const flags = ["inferer", ...infererManifestFlags, "--workers", String(workers), "--threads", String(threads), "--log-records", "on"];
  const child = spawnFerry(scaleLabels.inferer, nats, flags, cleanup);
  await waitForInferers(nc, child, workers);
  return child;
}

/** `ferry start gateway` on a loopback port; ready once it reports house price Running. */
export async function startGatewayChild(nats: BenchNats, cleanup: Cleanup): Promise<HttpChild> {
  const port = await freePort();
  const child = spawnFerry(scaleLabels.gateway, nats, ["gateway", "--host", "127.0.0.1", "--port", String(port)], cleanup);
  const url = `http://127.0.0.1:${port}`;
  await waitForPipeline(url, pipelines.house, child);
  return { child, url };
}

/** `ferry start --workers 1` (gateway, inferer, logger, deployer in one process) against the bench's nats-server. */
export async function startOneProcess(nats: BenchNats, cleanup: Cleanup): Promise<HttpChild> {
  const port = await freePort();
  const child = spawnFerry(scaleLabels.oneProcess, nats, ["--host", "127.0.0.1", "--port", String(port), ...manifestFlags, "--workers", "1"], cleanup);
  const url = `http://127.0.0.1:${port}`;
  for (const id of served) await waitForPipeline(url, id, child);
  return { child, url };
}
