// Ferry hot-swap bench: client-side latency of house-price batch-1 requests at concurrency 8 in steady
// state and while a new pipeline version is published every second (alternating two model files with
// different sha256), then the time from a publish to the first reply carrying the new model version.
// One Ferry (one process, its own nats-server) runs as a child; autocannon and the publisher run here.
// Run: node bench/dist/swap.js   (BENCH_SECONDS / BENCH_WARMUP_SECONDS change the phase lengths)
import { natsConnectOptions } from "@ferry/runtime";
import { readFile } from "node:fs/promises";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import ort from "onnxruntime-node";
import { publishManifestFile } from "@ferry/deployer";
import { openDeploymentStores, provision, siteAssets, storageSettings, type DeploymentStores } from "@ferry/runtime";
import { houseBody, houseHeaders, houseRow, paths, timing } from "./helpers/config.js";
import { benchMain } from "./helpers/main.js";
import { Cleanup } from "./helpers/procs.js";
import { median, msSince } from "./helpers/stats.js";
import { startSwapFerry, writeSwapFiles, type SwapManifest } from "./helpers/swap-ferry.js";
import { bucketsSincePublish, pollForFlip, runLoad, type Flip, type LoadRun, type Publish } from "./helpers/swap-load.js";
import { renderSwap, writeSwapSummary, type SlowRequest, type Spread, type StoredRun, type SwapSummary } from "./helpers/swap-report.js";
import { describeMachine, progress } from "./helpers/machine.js";

const pipeline = "swap-bench";
const connections = 8;
const publishIntervalMs = 1000;
const flipCount = 10;
const flipTimeoutMs = 30_000;
/** Buckets of "time from the latest publish to the request's start" in the swap phase. */
const bucketEdgesMs = [0, 50, 100, 250, 500];




const spread = (xs: readonly number[]): Spread => ({ medianMs: median(xs), maxMs: xs.length ? Math.max(...xs) : Number.NaN });

/** What a swap costs onnxruntime alone: session creation and one warm-up run, as the inferer does them. */
async function sessionCost(sessions: number): Promise<SwapSummary["inProcess"]> {
  const bytes = new Uint8Array(await readFile(paths.houseModel));
  const create: number[] = [];
  const warm: number[] = [];
  for (let i = 0; i <= sessions; i++) {
    let t0 = process.hrtime.bigint();
    const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: "all" });
    const createMs = msSince(t0);
    const feeds = { [session.inputNames[0]!]: new ort.Tensor("float32", Float32Array.from(houseRow), [1, houseRow.length]) };
    t0 = process.hrtime.bigint();
    await session.run(feeds);
    const warmMs = msSince(t0);
    await session.release();
    if (i === 0) continue; // the first one also initialises the runtime
    create.push(createMs);
    warm.push(warmMs);
  }
  return { createMs: spread(create), warmupRunMs: spread(warm), sessions };
}

/** Publishes through the deployer API and reads back the version the step got. */
async function publish(stores: DeploymentStores, m: SwapManifest): Promise<Publish> {
  const startMs = performance.now();
  const result = await publishManifestFile(stores, m.path);
  const callMs = performance.now() - startMs;
  const modelVersion = result.manifest.steps[0]?.version;
  if (typeof modelVersion !== "string") throw new Error(`publish of ${m.path} gave no step version`);
  return { label: m.label, startMs, callMs, modelVersion, pipelineVersion: result.manifest.pipeline_version };
}

/** Alternates A/B; `last` is the manifest most recently published. */
class Alternator {
  last: SwapManifest;
  lastVersion: string | undefined;
  readonly #a: SwapManifest;
  readonly #b: SwapManifest;

  constructor(a: SwapManifest, b: SwapManifest) {
    this.#a = a;
    this.#b = b;
    this.last = a;
  }

  next(): SwapManifest {
    this.last = this.last === this.#a ? this.#b : this.#a;
    return this.last;
  }
}

function stored(r: LoadRun): StoredRun {
  const { samples: _samples, startMs: _startMs, ...rest } = r;
  return rest;
}

function slowest(r: LoadRun, publishes: readonly Publish[], n: number): SlowRequest[] {
  return [...r.samples].sort((a, b) => b.latencyMs - a.latencyMs).slice(0, n).map((s) => {
    const begin = s.endMs - s.latencyMs;
    const latest = publishes.filter((p) => p.startMs <= begin).at(-1);
    return { latencyMs: Math.round(s.latencyMs * 1000) / 1000, sincePublishMs: latest ? Math.round((begin - latest.startMs) * 1000) / 1000 : null };
  });
}

async function run(cleanup: Cleanup): Promise<SwapSummary> {
  const startedAt = new Date().toISOString();
  const host = await describeMachine();
  progress("onnxruntime session creation in the bench process");
  const inProcess = await sessionCost(10);
  const files = await writeSwapFiles(pipeline, cleanup);
  progress(`starting Ferry with ${files.a.path}`);
  const ferry = await startSwapFerry(files.a.path, pipeline);
  cleanup.defer(() => ferry.stop());
  const nc: NatsConnection = await connect({ ...natsConnectOptions(ferry.natsUrl), name: "ferry-bench-swap", noAsyncTraces: true });
  cleanup.defer(() => nc.close());
  // `ferry start` provisioned the site already; provisioning again is a no-op that makes this bench self-contained.
  await provision(nc, siteAssets(storageSettings()));
  const stores = await openDeploymentStores(nc);
  const url = `${ferry.url}/pipelines/${pipeline}`;
  const alt = new Alternator(files.a, files.b);
  const flip = async (): Promise<Flip> => {
    const m = alt.next();
    const f = await pollForFlip(m.label, url, houseBody, houseHeaders, async () => {
      const p = await publish(stores, m);
      alt.lastVersion = p.modelVersion;
      return p;
    }, flipTimeoutMs);
    return f;
  };

  // Both models into the object store and the inferer's cache, A serving again at the end.
  progress("priming: first publish of B, then A");
  const prime = [await flip(), await flip()];

  const spec = { url, body: houseBody, headers: houseHeaders, connections, procs: ferry.procs };
  progress(`warm-up: ${timing.warmupSeconds} s at ${connections} connections`);
  await runLoad({ ...spec, seconds: timing.warmupSeconds });
  progress(`steady: ${timing.seconds} s at ${connections} connections`);
  const steady = (await runLoad({ ...spec, seconds: timing.seconds })).run;

  progress(`swaps: ${timing.seconds} s at ${connections} connections, a publish every ${publishIntervalMs} ms`);
  const { run: swap, extra } = await runLoad({ ...spec, seconds: timing.seconds }, async (startMs) => {
    const publishes: Publish[] = [];
    const endMs = startMs + timing.seconds * 1000;
    for (let at = startMs + publishIntervalMs / 2; at <= endMs - publishIntervalMs / 4; at += publishIntervalMs) {
      const wait = at - performance.now();
      if (wait > 0) await sleep(wait);
      const p = await publish(stores, alt.next());
      alt.lastVersion = p.modelVersion;
      publishes.push(p);
    }
    return publishes;
  });
  const publishes = extra ?? [];

  // The last publish of the swap phase must be serving before the next flip is timed.
  await pollForFlip("settle", url, houseBody, houseHeaders, () => Promise.resolve({ modelVersion: alt.lastVersion ?? "" }), flipTimeoutMs);
  progress(`publish -> new version: ${flipCount} publishes`);
  const flips: Flip[] = [];
  for (let i = 0; i < flipCount; i++) {
    flips.push(await flip());
    await sleep(300);
  }

  const failedRequests = [steady, swap].reduce((n, r) => n + r.errors + r.non2xx + r.timeouts, 0);
  const ratio = (a: number, b: number): number => Math.round((a / b) * 100) / 100;
  const r = { p50: ratio(swap.latency.p50Ms, steady.latency.p50Ms), p99: ratio(swap.latency.p99Ms, steady.latency.p99Ms) };
  return {
    startedAt,
    machine: host,
    settings: { pipeline, connections, seconds: timing.seconds, warmupSeconds: timing.warmupSeconds, publishIntervalMs, flips: flipCount },
    models: [files.a, files.b].map((m) => ({ label: m.label, file: m.modelFile, sha256: m.sha256 })),
    inProcess,
    prime,
    steady: stored(steady),
    swap: {
      ...stored(swap),
      publishes: publishes.map((p) => ({ ...p, startMs: Math.round((p.startMs - swap.startMs) * 1000) / 1000, callMs: Math.round(p.callMs * 1000) / 1000 })),
      buckets: bucketsSincePublish(swap.samples, publishes, bucketEdgesMs),
      slowest: slowest(swap, publishes, 20),
    },
    ratio: r,
    failedRequests,
    flips,
    flipStats: {
      toNew: spread(flips.map((f) => f.toNewMs)),
      afterAck: spread(flips.map((f) => f.afterAckMs)),
      publishCall: spread(flips.map((f) => f.callMs)),
    },
    verdicts: { noFailures: failedRequests === 0, p99Within2x: r.p99 <= 2 },
  };
}

benchMain({ name: "swap", run, render: renderSwap, write: (s) => writeSwapSummary(paths.results, s), passed: (s) => s.verdicts.noFailures });
