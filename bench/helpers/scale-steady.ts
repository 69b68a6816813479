// Parts 2 and 3 of bench/scale.ts: the embedded site (`ferry start` spawning its own nats-server, demo
// pipelines, default workers) under steady house-price HTTP load plus a trickle of sequential image
// requests, with the RSS of the Ferry process and its nats-server sampled every second.
import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { demoManifests } from "@ferry/cli";
import { arrowHeaders, houseBody, houseHeaders, paths, pipelines } from "./config.js";
import { startFerryChild, waitForPipeline, type FerryChild } from "./ferry-ready.js";
import { measureHttp, type HttpRun } from "./load.js";
import { progress } from "./machine.js";
import { checkReply } from "./probe.js";
import { childPids, commandLine, memoryKiB } from "./procs.js";
import { soakWithKill, type SoakKill } from "./soak-kill.js";
import { scaleLabels, scaleSettings } from "./scale-config.js";
import { meanMB, peakMB, sampleRss, slopeMBPerMin, sumSeries, type RssSeries } from "./scale-memory.js";

/** How the image requests that trickled in alongside the load went. */
export interface ImageTrickle {
  ok: number;
  failed: number;
  problems: string[];
}

/** Memory figures of one series, MB. */
export interface RssFigures {
  label: string;
  startMB: number;
  /** Means of the first and of the last `trendWindowS` seconds. */
  firstMB: number;
  lastMB: number;
  endMB: number;
  peakMB: number;
  /** Linear fit over the samples after the first `trendWindowS` seconds. */
  slopeMBPerMin: number;
  /** VmHWM at the end (a single process only): the peak over its whole life, start-up included. */
  hwmMB?: number;
}

/** What one steady run measured. */
export interface SteadyResult {
  label: string;
  /** Measured seconds of HTTP load (after `warmupSeconds`; memory is sampled over both). */
  seconds: number;
  warmupSeconds: number;
  connections: number;
  http: HttpRun;
  images: ImageTrickle;
  /** The Ferry process, its nats-server, and their sum. */
  memory: RssFigures[];
  series: RssSeries[];
}

/** Sequential image requests, `imageIntervalMs` apart, until `stop.done`. */
async function trickleImages(url: string, body: Buffer, stop: { done: boolean }): Promise<ImageTrickle> {
  const out: ImageTrickle = { ok: 0, failed: 0, problems: [] };
  const fail = (problem: string): void => {
    out.failed++;
    if (out.problems.length < 5) out.problems.push(problem);
  };
  while (!stop.done) {
    try {
      const res = await fetch(url, { method: "POST", headers: arrowHeaders, body });
      const text = await res.text();
      if (res.status === 200) out.ok++;
      else fail(`${res.status}: ${text.slice(0, 200)}`);
    } catch (err) {
      fail(String(err));
    }
    await sleep(scaleSettings.imageIntervalMs);
  }
  return out;
}

function figuresOf(series: RssSeries, hwmKiB: number | undefined): RssFigures {
  const { points } = series;
  const end = points.at(-1)?.s ?? 0;
  const w = scaleSettings.trendWindowS;
  return {
    label: series.label, startMB: points[0]?.mb ?? Number.NaN, firstMB: meanMB(points, 0, w), lastMB: meanMB(points, end - w, end),
    endMB: points.at(-1)?.mb ?? Number.NaN, peakMB: peakMB(series), slopeMBPerMin: slopeMBPerMin(points, w),
    ...(hwmKiB === undefined ? {} : { hwmMB: (hwmKiB * 1024) / 1e6 }),
  };
}

/** The load on a started site: HTTP house price with the image trickle alongside, RSS sampled throughout. */
async function loadSite(site: FerryChild, label: string, seconds: number): Promise<SteadyResult> {
  const { steadyConnections: connections, warmupSeconds, steadySampleMs } = scaleSettings;
  const stop = { done: false };
  const sampler = sampleRss(site.procs, steadySampleMs);
  const images = trickleImages(`${site.url}/pipelines/${pipelines.cv}`, await readFile(paths.imageArrow), stop);
  const url = `${site.url}/pipelines/${pipelines.house}`;
  let http: HttpRun;
  let hwm: (number | undefined)[];
  let perProcess: RssSeries[];
  try {
    http = await measureHttp({ url, body: houseBody, headers: houseHeaders, connections, seconds, warmupSeconds, procs: site.procs });
  } finally {
    stop.done = true;
    hwm = site.procs.map((p) => memoryKiB(p.pid)?.peak);
    perProcess = sampler.stop();
  }
  const series = [...perProcess, sumSeries(scaleLabels.siteTotal, perProcess)];
  const memory = series.map((s, i) => figuresOf(s, hwm[i]));
  return { label, seconds, warmupSeconds, connections, http, images: await images, memory, series };
}

/** Starts the embedded site, loads it for `seconds` (plus the warm-up), stops it. */
export async function measureSteady(label: string, seconds: number): Promise<SteadyResult> {
  progress(`${label}: starting ferry start (own nats-server, demo pipelines, default workers)`);
  const [first, ...rest] = demoManifests;
  const site = await startFerryChild(scaleLabels.site, first!, pipelines.house, rest.flatMap((m) => ["--pipeline", m]));
  try {
    await waitForPipeline(site.url, pipelines.cv, site.child);
    await checkReply(`${site.url}/pipelines/${pipelines.house}`, houseBody, houseHeaders);
    progress(`${label}: house price HTTP c${scaleSettings.steadyConnections} for ${scaleSettings.warmupSeconds} + ${seconds} s, an image every ${scaleSettings.imageIntervalMs} ms`);
    return await loadSite(site, label, seconds);
  } finally {
    await site.stop();
  }
}

/** The soak with a fault: the embedded site under house-price load, its nats-server killed at half time; the Ferry process's RSS throughout. */
export async function measureSoakWithKill(seconds: number): Promise<{ kill: SoakKill; memory: RssFigures[] }> {
  progress(`soak with a fault: starting ferry start (own nats-server, demo pipelines), ${seconds} s of load, kill -9 of its nats-server at half time`);
  const [first, ...rest] = demoManifests;
  const site = await startFerryChild(scaleLabels.site, first!, pipelines.house, rest.flatMap((m) => ["--pipeline", m]));
  try {
    await checkReply(`${site.url}/pipelines/${pipelines.house}`, houseBody, houseHeaders);
    // The Ferry process only: the nats-server's pid changes at the kill.
    const ferry = site.procs.filter((p) => p.label !== "nats-server");
    const sampler = sampleRss(ferry, scaleSettings.steadySampleMs);
    const kill = await soakWithKill(site, seconds, scaleSettings.steadyConnections, () => natsServerPid(site));
    const memory = sampler.stop().map((s) => figuresOf(s, undefined));
    return { kill, memory };
  } finally {
    await site.stop();
  }
}

async function natsServerPid(site: FerryChild): Promise<number | undefined> {
  return (await childPids(site.child.pid)).find((pid) => commandLine(pid).includes("nats-server"));
}
