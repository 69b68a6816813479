// Part 1 of bench/scale.ts: an inferer process with 1 and with 2 worker threads, alternated in rounds on
// the same nats-server; each round loads it from the NATS devices (image classifier, then house price)
// and over HTTP through a fresh gateway (house price), sampling every process's RSS. Then the whole site
// in one process (--workers 1) serves house price over HTTP, for comparison.
import type { NatsConnection } from "@nats-io/transport-node";
import { inferSubject } from "@ferry/contracts";
import { houseBody, houseHeaders, pipelines } from "./config.js";
import type { Workload } from "./devices-config.js";
import { closedLoop } from "./devices-load.js";
import type { BenchNats } from "./devices-site.js";
import { cpuWindow, measureHttp, type CpuShare } from "./load.js";
import { progress } from "./machine.js";
import { checkReply } from "./probe.js";
import { Cleanup, type Proc } from "./procs.js";
import { scaleLabels, scaleSettings, workersOfRound } from "./scale-config.js";
import { peakMB, sampleRss } from "./scale-memory.js";
import { startGatewayChild, startInfererChild, startOneProcess } from "./scale-site.js";

/** One measured load on one setup. */
export interface ScaleRun {
  load: string;
  /** "1 worker", "2 workers" or "one process". */
  setup: string;
  round: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Replies other than 200 plus requests without a reply. */
  failed: number;
  /** The first few failures, for the report. */
  problems: string[];
  cpu: CpuShare[];
}

/** Peak RSS of each process, sampled every `loadSampleMs` while one setup was under load. */
export interface SetupMemory {
  setup: string;
  round: number;
  peaks: { label: string; mb: number }[];
}

/** A device workload of part 1 and how many of the device connections run it. */
export type ScaleWorkload = Workload & { devices: number };

/** An inferer setup: worker threads, and onnxruntime intra-op threads per session. */
export interface InfererSetup {
  workers: number;
  threads: number;
  /** Only these device workloads (labels), and no HTTP run; default: every workload and the HTTP run. */
  only?: readonly string[];
}

/** What part 1 needs: the nats-server, a control connection, the device connections and their workloads. */
export interface WorkersContext {
  nats: BenchNats;
  nc: NatsConnection;
  devices: readonly NatsConnection[];
  workloads: readonly ScaleWorkload[];
}

/** Everything part 1 measured. */
export interface WorkersResult {
  runs: ScaleRun[];
  memory: SetupMemory[];
}

/** The bench itself: the devices and autocannon run here. */
const bench: Proc = { label: scaleLabels.bench, pid: process.pid, node: true };
/** The setup label of the whole site in one process. */
const oneProcess = "one process";
const httpLoad = (): string => `house price, HTTP c${scaleSettings.httpConnections}`;

/** A setup's label for `workers` inferer threads with `threads` onnxruntime threads each. */
export function setupOf(workers: number, threads = 1): string {
  const label = workers === 1 ? "1 worker" : `${workers} workers`;
  return threads === 1 ? label : `${label}, ${threads} ort threads`;
}

/** The autocannon load of part 1 on `url`'s house-price route; `procs` are the Ferry processes. */
async function httpRun(url: string, procs: readonly Proc[], setup: string, round: number): Promise<ScaleRun> {
  const route = `${url}/pipelines/${pipelines.house}`;
  const { httpConnections: connections, seconds, warmupSeconds } = scaleSettings;
  progress(`${setup}, round ${round}: ${httpLoad()}, ${warmupSeconds} s warm-up + ${seconds} s`);
  await checkReply(route, houseBody, houseHeaders);
  const r = await measureHttp({ url: route, body: houseBody, headers: houseHeaders, connections, seconds, warmupSeconds, procs });
  const failed = r.errors + r.non2xx + r.timeouts;
  return {
    load: httpLoad(), setup, round, rps: r.rps, p50Ms: r.latency.p50Ms, p99Ms: r.latency.p99Ms, failed,
    problems: failed ? [`${r.errors} errors, ${r.non2xx} non-2xx, ${r.timeouts} timeouts`] : [], cpu: r.cpu,
  };
}

/** Every device runs its closed loop on `w`: warm-up, then the measured window with CPU sampled. */
async function deviceRun(ctx: WorkersContext, w: ScaleWorkload, procs: readonly Proc[], setup: string, round: number): Promise<ScaleRun> {
  const { seconds, warmupSeconds, requestTimeoutMs } = scaleSettings;
  const devices = ctx.devices.slice(0, w.devices);
  progress(`${setup}, round ${round}: ${w.label}, ${devices.length} NATS devices, ${warmupSeconds} s warm-up + ${seconds} s`);
  await closedLoop(devices, w, warmupSeconds, requestTimeoutMs);
  const closeCpu = cpuWindow([bench, ...procs]);
  const loop = await closedLoop(devices, w, seconds, requestTimeoutMs);
  const cpu = await closeCpu();
  const failed = loop.errors + Object.values(loop.otherStatuses).reduce((a, b) => a + b, 0);
  return {
    load: `${w.label}, NATS x${devices.length}`, setup, round, rps: loop.rps, p50Ms: loop.latency.p50Ms, p99Ms: loop.latency.p99Ms,
    failed, problems: loop.problems, cpu,
  };
}

/** Runs `body` while sampling the RSS of the bench and `procs`; returns its runs and each process's peak. */
async function sampled(setup: string, round: number, procs: readonly Proc[], body: () => Promise<ScaleRun[]>): Promise<WorkersResult> {
  const sampler = sampleRss([bench, ...procs], scaleSettings.loadSampleMs);
  try {
    const runs = await body();
    return { runs, memory: [{ setup, round, peaks: sampler.stop().map((s) => ({ label: s.label, mb: peakMB(s) })) }] };
  } catch (err) {
    sampler.stop();
    throw err;
  }
}

/** A fresh inferer in setup `s` and a fresh gateway; the device loads, then the HTTP load. */
async function measureWorkers(ctx: WorkersContext, s: InfererSetup, round: number): Promise<WorkersResult> {
  const setup = setupOf(s.workers, s.threads);
  const cleanup = new Cleanup();
  try {
    progress(`${setup}, round ${round}: starting the inferer and the gateway`);
    const inferer = await startInfererChild(ctx.nats, ctx.nc, s.workers, s.threads, cleanup);
    const gateway = await startGatewayChild(ctx.nats, cleanup);
    const procs = [ctx.nats.proc, inferer, gateway.child];
    return await sampled(setup, round, procs, async () => {
      const runs: ScaleRun[] = [];
      for (const w of ctx.workloads.filter((w) => !s.only || s.only.includes(w.label))) runs.push(await deviceRun(ctx, w, procs, setup, round));
      if (!s.only) runs.push(await httpRun(gateway.url, procs, setup, round));
      return runs;
    });
  } finally {
    await cleanup.run();
  }
}

/** The whole site in one process (--workers 1) serving house price over HTTP. */
async function measureOneProcess(ctx: WorkersContext): Promise<WorkersResult> {
  const cleanup = new Cleanup();
  try {
    progress("one process: starting ferry start --workers 1");
    const ferry = await startOneProcess(ctx.nats, cleanup);
    const procs = [ctx.nats.proc, ferry.child];
    return await sampled(oneProcess, 1, procs, async () => [await httpRun(ferry.url, procs, oneProcess, 1)]);
  } finally {
    await cleanup.run();
  }
}

/** The label of the compute-bound classifier's workload. */
export const heavyLabel = "image classifier, compute-bound";

/**
 * Part 1's device workloads: the demo classifier and house price on every device connection, and the
 * compute-bound classifier (4.2 G multiply-adds an image) on 16: enough to keep two workers busy
 * without 64 queued images adding seconds of latency.
 */
export function scaleWorkloads(demo: readonly Workload[], devices: number): ScaleWorkload[] {
  const cv = demo.find((w) => w.pipeline === pipelines.cv);
  if (!cv) throw new Error("no image classifier workload");
  const heavy = { ...cv, label: heavyLabel, pipeline: pipelines.cvHeavy, subject: inferSubject(pipelines.cvHeavy), devices: Math.min(16, devices) };
  return [...demo.map((w) => ({ ...w, devices })), heavy];
}

/** Every round of 1 and 2 workers (and 1 worker with 2 onnxruntime threads), then the one-process site. */
export async function measureScaling(ctx: WorkersContext): Promise<WorkersResult> {
  const all: WorkersResult = { runs: [], memory: [] };
  const add = (r: WorkersResult): void => {
    all.runs.push(...r.runs);
    all.memory.push(...r.memory);
  };
  for (let round = 1; round <= scaleSettings.rounds; round++) {
    for (const workers of workersOfRound(round)) add(await measureWorkers(ctx, { workers, threads: 1 }, round));
    // The other way to give one inferer both cores: onnxruntime's intra-op threads, on the model that can use them.
    add(await measureWorkers(ctx, { workers: 1, threads: 2, only: [heavyLabel] }, round));
  }
  add(await measureOneProcess(ctx));
  return all;
}
