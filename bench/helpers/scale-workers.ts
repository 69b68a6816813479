// Part 1 of bench/scale.ts: an inferer process with 1 and with 2 worker threads, alternated in rounds on
// the same nats-server; each round loads it from the NATS devices (image classifier, then house price)
// and over HTTP through a fresh gateway (house price), sampling every process's RSS. Then the whole site
// in one process (--workers 1) serves house price over HTTP, for comparison.
import type { NatsConnection } from "@nats-io/transport-node";
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

/** What part 1 needs: the nats-server, a control connection, the device connections and their workloads. */
export interface WorkersContext {
  nats: BenchNats;
  nc: NatsConnection;
  devices: readonly NatsConnection[];
  workloads: readonly Workload[];
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

/** A setup's label for `workers` inferer threads. */
export function setupOf(workers: number): string {
  return workers === 1 ? "1 worker" : `${workers} workers`;
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
async function deviceRun(ctx: WorkersContext, w: Workload, procs: readonly Proc[], setup: string, round: number): Promise<ScaleRun> {
  const { seconds, warmupSeconds, devices, requestTimeoutMs } = scaleSettings;
  progress(`${setup}, round ${round}: ${w.label}, ${devices} NATS devices, ${warmupSeconds} s warm-up + ${seconds} s`);
  await closedLoop(ctx.devices, w, warmupSeconds, requestTimeoutMs);
  const closeCpu = cpuWindow([bench, ...procs]);
  const loop = await closedLoop(ctx.devices, w, seconds, requestTimeoutMs);
  const cpu = await closeCpu();
  const failed = loop.errors + Object.values(loop.otherStatuses).reduce((a, b) => a + b, 0);
  return {
    load: `${w.label}, NATS x${devices}`, setup, round, rps: loop.rps, p50Ms: loop.latency.p50Ms, p99Ms: loop.latency.p99Ms,
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

/** A fresh inferer with `workers` threads and a fresh gateway; the device loads, then the HTTP load. */
async function measureWorkers(ctx: WorkersContext, workers: number, round: number): Promise<WorkersResult> {
  const setup = setupOf(workers);
  const cleanup = new Cleanup();
  try {
    progress(`${setup}, round ${round}: starting the inferer and the gateway`);
    const inferer = await startInfererChild(ctx.nats, ctx.nc, workers, cleanup);
    const gateway = await startGatewayChild(ctx.nats, cleanup);
    const procs = [ctx.nats.proc, inferer, gateway.child];
    return await sampled(setup, round, procs, async () => {
      const runs: ScaleRun[] = [];
      for (const w of ctx.workloads) runs.push(await deviceRun(ctx, w, procs, setup, round));
      runs.push(await httpRun(gateway.url, procs, setup, round));
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

/** Every round of 1 and 2 workers, then the one-process site. */
export async function measureScaling(ctx: WorkersContext): Promise<WorkersResult> {
  const all: WorkersResult = { runs: [], memory: [] };
  const add = (r: WorkersResult): void => {
    all.runs.push(...r.runs);
    all.memory.push(...r.memory);
  };
  for (let round = 1; round <= scaleSettings.rounds; round++) {
    for (const workers of workersOfRound(round)) add(await measureWorkers(ctx, workers, round));
  }
  add(await measureOneProcess(ctx));
  return all;
}
