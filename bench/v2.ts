// V2 bench (the Open Inference Protocol beside Wallaroo's API), one Ferry process, alternated rounds:
//  1. house price batch 1 at 32 connections: V2 REST JSON vs POST /pipelines/{name} (pandas-records);
//  2. gRPC ModelInfer (32 streams, @grpc/grpc-js here) vs V2 REST JSON (32 connections, autocannon here);
//  3. after those rounds, one 224×224 image at one connection: V2 binary extension vs V2 JSON tensor vs Wallaroo Arrow.
// Run: npm run bench:v2 (BENCH_SECONDS, BENCH_ROUNDS, BENCH_IMAGE_REQUESTS shorten or lengthen it).
import { readFile } from "node:fs/promises";
import { arrowHeaders, envNumber, houseBody, houseHeaders, paths, pipelines, timing } from "./helpers/config.js";
import { measureHttp, type HttpRun } from "./helpers/load.js";
import { benchMain } from "./helpers/main.js";
import { describeMachine, progress } from "./helpers/machine.js";
import { writeReportFile } from "./helpers/report-file.js";
import { cpuTicks, freePort, ticksPerSecond } from "./helpers/procs.js";
import { startFerryOneProcess, type Topology } from "./helpers/servers.js";
import { grpcClient, grpcHouseRequest, grpcLoad, imageBytes, jsonHeaders, sequentialMs, v2HouseBody, v2ImageBinary, v2ImageJson } from "./helpers/v2-clients.js";

const rounds = Math.round(envNumber("BENCH_ROUNDS", 3));

interface Round {
  wallarooRps: number;
  v2RestRps: number;
  /** CPU of Ferry and its nats-server per answered request, µs: what the server side spends, whatever the client costs. */
  wallarooCpuUs: number;
  v2RestCpuUs: number;
  grpcCpuUs: number;
  grpcRps: number;
  grpcErrors: number;
  imageMs: { wallarooArrow: number; v2Binary: number; v2Json: number };
}

interface Summary {
  startedAt: string;
  machine: Record<string, string | number | boolean>;
  seconds: number;
  rounds: Round[];
}

/** Server-side CPU µs per request over a run, from the topology's processes' CPU shares. */
const cpuPerRequest = (run: HttpRun, topo: Topology): number =>
  run.cpu.filter((c) => topo.procs.some((p) => p.label === c.label)).reduce((n, c) => n + c.totalPct, 0) / 100 * 1e6 / run.rps;

/** Wallaroo and V2 REST at 32 connections; which goes first alternates by round (`flip`), so neither always runs on a warmer site. */
async function houseRound(topo: Topology, flip: boolean): Promise<Pick<Round, "wallarooRps" | "v2RestRps" | "wallarooCpuUs" | "v2RestCpuUs">> {
  const load = { connections: 32, seconds: timing.seconds, warmupSeconds: timing.warmupSeconds, procs: topo.procs };
  const runWallaroo = (): Promise<HttpRun> => measureHttp({ ...load, url: `${topo.url}/pipelines/${pipelines.house}`, body: houseBody, headers: houseHeaders });
  const runV2 = (): Promise<HttpRun> => measureHttp({ ...load, url: `${topo.url}/v2/models/${pipelines.house}/infer`, body: v2HouseBody, headers: jsonHeaders });
  const [wallaroo, v2] = flip ? (([b, a]) => [a, b])([await runV2(), await runWallaroo()]) : [await runWallaroo(), await runV2()];
  if (wallaroo!.non2xx + v2!.non2xx > 0) throw new Error(`non-2xx replies: Wallaroo ${wallaroo!.non2xx}, V2 ${v2!.non2xx}`);
  return { wallarooRps: wallaroo!.rps, v2RestRps: v2!.rps, wallarooCpuUs: cpuPerRequest(wallaroo!, topo), v2RestCpuUs: cpuPerRequest(v2!, topo) };
}

/** gRPC at 32 streams, with the server side's CPU per request (the client here costs CPU of its own). */
async function grpcRound(topo: Topology, client: ReturnType<typeof grpcClient>): Promise<Pick<Round, "grpcRps" | "grpcErrors" | "grpcCpuUs">> {
  await grpcLoad(client, grpcHouseRequest, 32, timing.warmupSeconds);
  const ticks = (): number => topo.procs.reduce((n, p) => n + cpuTicks(p.pid).total, 0);
  const before = ticks();
  const g = await grpcLoad(client, grpcHouseRequest, 32, timing.seconds);
  const cpuUs = (ticks() - before) / await ticksPerSecond() * 1e6 / (g.rps * timing.seconds);
  return { grpcRps: g.rps, grpcErrors: g.errors, grpcCpuUs: cpuUs };
}

async function imageRound(url: string, raw: Buffer, arrow: Buffer): Promise<Round["imageMs"]> {
  const n = timing.imageRequests;
  const binary = v2ImageBinary(raw);
  const v2 = `${url}/v2/models/${pipelines.cv}/infer`;
  return {
    wallarooArrow: await sequentialMs(`${url}/pipelines/${pipelines.cv}`, arrow, arrowHeaders, n, 3),
    v2Binary: await sequentialMs(v2, binary.body, binary.headers, n, 3),
    v2Json: await sequentialMs(v2, v2ImageJson(raw), jsonHeaders, n, 3),
  };
}

async function run(): Promise<Summary> {
  const startedAt = new Date().toISOString();
  const machine = await describeMachine();
  const grpcPort = await freePort();
  // `ferry start` reads its gRPC port from the environment as from --grpc-port.
  process.env.FERRY_GRPC_PORT = String(grpcPort);
  const topo = await startFerryOneProcess("Ferry one process (house + cv, gRPC on)", [paths.houseManifest, paths.cvManifest], [pipelines.house, pipelines.cv]);
  const client = grpcClient(`127.0.0.1:${grpcPort}`);
  try {
    const [raw, arrow] = [await imageBytes(), await readFile(paths.imageArrow)];
    // The image rounds come after every house round: a JSON image leaves a large heap behind, which
    // slowed whichever house run came next.
    const house: Omit<Round, "imageMs">[] = [];
    for (let r = 1; r <= rounds; r++) {
      progress(`round ${r}/${rounds}: house price at 32 connections, Wallaroo and V2 REST (${r % 2 === 0 ? "V2" : "Wallaroo"} first)`);
      const h = await houseRound(topo, r % 2 === 0);
      progress(`round ${r}/${rounds}: gRPC, 32 streams, ${timing.seconds} s`);
      house.push({ ...h, ...await grpcRound(topo, client) });
    }
    const out: Round[] = [];
    for (const [i, h] of house.entries()) {
      progress(`image round ${i + 1}/${rounds}: ${timing.imageRequests} sequential requests each way`);
      out.push({ ...h, imageMs: await imageRound(topo.url, raw, arrow) });
    }
    return { startedAt, machine, seconds: timing.seconds, rounds: out };
  } finally {
    client.close();
    await topo.stop();
  }
}

const f = (x: number, d = 2): string => x.toFixed(d);

function render(s: Summary): string {
  const lines = [`V2 bench, ${s.rounds.length} alternated rounds of ${s.seconds} s; machine: ${JSON.stringify(s.machine)}`, ""];
  lines.push("round | Wallaroo req/s | V2 REST req/s | V2/Wallaroo | gRPC req/s | gRPC/REST | server CPU µs/req: Wallaroo, V2 REST, gRPC | image ms: Arrow | V2 binary | V2 JSON");
  for (const [i, r] of s.rounds.entries()) {
    lines.push(`${i + 1} | ${f(r.wallarooRps, 0)} | ${f(r.v2RestRps, 0)} | ${f(r.v2RestRps / r.wallarooRps)}× | ${f(r.grpcRps, 0)}${r.grpcErrors ? ` (${r.grpcErrors} errors)` : ""} | ${f(r.grpcRps / r.v2RestRps)}× | `
      + `${f(r.wallarooCpuUs, 0)}, ${f(r.v2RestCpuUs, 0)}, ${f(r.grpcCpuUs, 0)} | ${f(r.imageMs.wallarooArrow)} | ${f(r.imageMs.v2Binary)} | ${f(r.imageMs.v2Json)}`);
  }
  lines.push("", "Server CPU: Ferry and its nats-server. The gRPC load runs on @grpc/grpc-js in this process and takes CPU of its own on the same cores; autocannon takes less.");
  return lines.join("\n");
}

benchMain({
  name: "v2", run, render,
  write: (s) => writeReportFile(paths.results, "v2", s),
  passed: (s) => s.rounds.every((r) => r.grpcErrors === 0),
});
