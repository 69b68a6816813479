// Part 2 of bench/devices.ts: durable submit → result throughput of single-row house-price requests,
// with an inferer running ("live"), and submitted while none runs, then drained by a new one ("backlog").
import { setTimeout as sleep } from "node:timers/promises";
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { RequestStream } from "@ferry/contracts";
import type { DurableStats } from "@ferry/inferer";
import { houseBody, houseHeaders, pipelines } from "./config.js";
import { devicesSettings } from "./devices-config.js";
import { ResultCollector, submitAll, type Collected, type Submitted } from "./devices-results.js";
import { infererStats, procsOf, spawnInferer, startInferer, waitUntilServing, type BenchNats, type InfererChild } from "./devices-site.js";
import { cpuWindow, type CpuShare } from "./load.js";
import { progress } from "./machine.js";

/** One durable phase. */
export interface DurablePhase {
  label: string;
  requests: number;
  submit: Submitted & { acksPerS: number };
  results: Collected;
  /** From the first publish (live) or the inferer's spawn (backlog) to the first and the last result, s. */
  firstResultS: number;
  lastResultS: number;
  /** requests ÷ lastResultS. */
  resultsPerS: number;
  /** requests ÷ (last result − first result): the rate once results flow. */
  flowingPerS: number;
  /** Pipeline runs ÷ requests of the inferer (it answered only this phase). */
  runsPerRequest: number;
  durableStats: DurableStats | undefined;
  /** FERRY_REQUESTS messages left once every result was in (0 expected). */
  leftInQueue: number;
  cpu: CpuShare[];
}

/** What part 2 needs: the nats-server and a control connection. */
export interface DurableContext {
  nats: BenchNats;
  nc: NatsConnection;
}

const servedPipelines = [pipelines.cv, pipelines.house];
const idsOf = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
const runTag = Math.random().toString(36).slice(2, 8);

/** Submits with an inferer serving; the clock starts at the first publish. */
export async function durableLive(ctx: DurableContext): Promise<DurablePhase> {
  const n = devicesSettings.durableRequests;
  progress(`durable, live: starting an inferer (default batching), then ${n} submissions`);
  const inferer = await startInferer(ctx.nats, ctx.nc, [], servedPipelines);
  const collector = await openCollector(ctx, `live${runTag}`);
  try {
    const closeCpu = cpuWindow(procsOf(ctx.nats, inferer));
    const start = performance.now();
    const submit = await submitAll(jetstream(ctx.nc), pipelines.house, houseHeaders["content-type"], houseBody, idsOf(`live${runTag}`, n), devicesSettings.publishesInFlight);
    const results = await collector.waitFor(n, devicesSettings.stallMs);
    return await phase(ctx, "live", n, start, submit, results, await closeCpu());
  } finally {
    await collector.close();
    await inferer.stop();
  }
}

/** Submits while no inferer runs, then starts one; the clock starts at its spawn. */
export async function durableBacklog(ctx: DurableContext): Promise<DurablePhase> {
  const n = devicesSettings.durableRequests;
  progress(`durable, backlog: ${n} submissions with no inferer running`);
  const collector = await openCollector(ctx, `backlog${runTag}`);
  let inferer: InfererChild | undefined;
  try {
    const submit = await submitAll(jetstream(ctx.nc), pipelines.house, houseHeaders["content-type"], houseBody, idsOf(`backlog${runTag}`, n), devicesSettings.publishesInFlight);
    progress(`durable, backlog: ${submit.seconds.toFixed(1)} s to submit; starting an inferer to drain it`);
    inferer = spawnInferer(ctx.nats, []);
    const closeCpu = cpuWindow(procsOf(ctx.nats, inferer));
    await waitUntilServing(ctx.nc, inferer.child, servedPipelines);
    const results = await collector.waitFor(n, devicesSettings.stallMs);
    return await phase(ctx, "backlog", n, inferer.spawnedAt, submit, results, await closeCpu());
  } finally {
    await collector.close();
    await inferer?.stop();
  }
}

async function openCollector(ctx: DurableContext, prefix: string): Promise<ResultCollector> {
  return ResultCollector.open(jetstream(ctx.nc), await jetstreamManager(ctx.nc), pipelines.house, prefix);
}

async function phase(ctx: DurableContext, label: string, n: number, start: number, submit: Submitted, results: Collected, cpu: CpuShare[]): Promise<DurablePhase> {
  const stats = await infererStats(ctx.nc);
  const lastResultS = (results.lastAt - start) / 1000;
  return {
    label, requests: n, submit: { ...submit, acksPerS: n / submit.seconds }, results,
    firstResultS: (results.firstAt - start) / 1000, lastResultS,
    resultsPerS: results.results / lastResultS, flowingPerS: results.results / ((results.lastAt - results.firstAt) / 1000),
    runsPerRequest: stats.runs / stats.requests, durableStats: stats.durable,
    leftInQueue: await queueLeft(await jetstreamManager(ctx.nc)), cpu,
  };
}

/** FERRY_REQUESTS messages left, given up to 2 s to reach 0 (acks trail the results). */
async function queueLeft(jsm: JetStreamManager): Promise<number> {
  const deadline = performance.now() + 2000;
  let left = (await jsm.streams.info(RequestStream)).state.messages;
  while (left > 0 && performance.now() < deadline) {
    await sleep(100);
    left = (await jsm.streams.info(RequestStream)).state.messages;
  }
  return left;
}
