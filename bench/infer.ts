// Ferry inference bench: house-price batch-1 throughput/latency for two Ferry topologies against an
// in-process onnxruntime loop (a) and a bare Fastify+onnxruntime server (b), plus image figures
// (sequential latency and images/s at 8 connections) for both topologies.
// Every server runs in child processes; autocannon runs here. Run: node bench/dist/infer.js
import { readFile } from "node:fs/promises";
import { arrowHeaders, concurrencies, houseBody, houseHeaders, houseRow, imageConnections, paths, pipelines, timing } from "./helpers/config.js";
import { benchHouseInProcess, imageInProcess } from "./helpers/inprocess.js";
import { measureHttp, type HttpRun } from "./helpers/load.js";
import { checkReply, measureImage, type ImageFigure } from "./helpers/probe.js";
import { benchMain } from "./helpers/main.js";
import { names, ratiosOf, render, writeSummary, type Summary, type TopologyResult } from "./helpers/report.js";
import { memoryOf, startBareServer, startFerryOneProcess, startFerryTwoProcesses, type Topology } from "./helpers/servers.js";
import { describeMachine, progress } from "./helpers/machine.js";

/** Starts a topology, checks one reply, runs every concurrency, reads memory, stops it. */
async function measureTopology(start: () => Promise<Topology>): Promise<TopologyResult> {
  const topo = await start();
  try {
    const url = `${topo.url}/infer`;
    const checkValue = await checkReply(url, houseBody, houseHeaders);
    const runs: HttpRun[] = [];
    for (const connections of concurrencies) {
      progress(`${topo.name}: ${connections} connection(s), ${timing.warmupSeconds} s warm-up + ${timing.seconds} s`);
      runs.push(await measureHttp({ url, body: houseBody, headers: houseHeaders, connections, seconds: timing.seconds, warmupSeconds: timing.warmupSeconds, procs: topo.procs }));
    }
    return { name: topo.name, checkValue, runs, memory: memoryOf(topo.procs) };
  } finally {
    await topo.stop();
  }
}

/**
 * Image figures on their own Ferry (so the house-price memory figures do not include the CNN): the
 * sequential end-to-end latency (1 connection), then images/s at {@link imageConnections} connections.
 */
async function measureImageFigure(name: string, start: (manifests: string[], pipelines: string[]) => Promise<Topology>): Promise<ImageFigure> {
  progress(`image: ${name} with cv-demo.json, ${timing.imageRequests} sequential requests, then ${imageConnections} connections`);
  const topo = await start([paths.cvManifest], [pipelines.cv]);
  try {
    const url = `${topo.url}/pipelines/${pipelines.cv}`;
    const figure = await measureImage(url, paths.imageArrow, arrowHeaders, timing.imageRequests, timing.imageWarmups);
    const body = await readFile(paths.imageArrow);
    const run = (connections: number): Promise<HttpRun> => measureHttp({ url, body, headers: arrowHeaders, connections, seconds: timing.seconds, warmupSeconds: timing.warmupSeconds, procs: topo.procs });
    // The sequential figure above goes through fetch(), whose own cost for a 605 KB body is milliseconds;
    // autocannon at one connection gives the same latency with a lighter client.
    const single = await run(1);
    const load = await run(imageConnections);
    return { ...figure, topology: name, single, load, memory: memoryOf(topo.procs) };
  } finally {
    await topo.stop();
  }
}

async function run(): Promise<Summary> {
  const startedAt = new Date().toISOString();
  const host = await describeMachine();
  progress(`in-process onnxruntime: chains ${concurrencies.join(", ")}`);
  const house = await benchHouseInProcess(paths.houseModel, houseRow, concurrencies, timing.seconds, timing.warmupSeconds);
  const http: TopologyResult[] = [];
  http.push(await measureTopology(() => startBareServer(names.bare)));
  http.push(await measureTopology(() => startFerryOneProcess(names.one, [paths.houseManifest], [pipelines.house])));
  http.push(await measureTopology(() => startFerryTwoProcesses(names.two, [paths.houseManifest], [pipelines.house])));
  const ferryImage = await measureImageFigure(names.one, (m, p) => startFerryOneProcess(`${names.one} (cv)`, m, p));
  const ferryImageTwo = await measureImageFigure(names.two, (m, p) => startFerryTwoProcesses(`${names.two} (cv)`, m, p));
  progress("image: in-process onnxruntime");
  const inImage = await imageInProcess(paths.imageModel, paths.imageF32, timing.imageRequests, timing.imageWarmups);
  return {
    startedAt, machine: host, timing, inProcess: house.runs, inProcessCheckValue: house.value, http, ratios: ratiosOf(http),
    image: { ferry: ferryImage, ferryTwo: ferryImageTwo, inProcessMedianMs: inImage.medianMs, inProcessClassification: inImage.classification },
  };
}

benchMain({ name: "infer", run, render, write: (s) => writeSummary(paths.results, s) });
