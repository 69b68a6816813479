// V2 bench (the Open Inference Protocol beside Wallaroo's API), one Ferry process, alternated rounds:
//  1. house price batch 1 at 32 connections: V2 REST JSON vs POST /pipelines/{name} (pandas-records);
//  2. gRPC ModelInfer (32 streams, @grpc/grpc-js here) vs V2 REST JSON (32 connections, autocannon here);
//  3. one 224×224 image at one connection: V2 binary extension vs V2 JSON tensor vs Wallaroo Arrow.
// Run: npm run bench:v2 (BENCH_SECONDS, BENCH_ROUNDS, BENCH_IMAGE_REQUESTS shorten or lengthen it).
import { readFile } from "node:fs/promises";
import { arrowHeaders, envNumber, houseBody, houseHeaders, paths, pipelines, timing } from "./helpers/config.js";
import { measureHttp } from "./helpers/load.js";
import { benchMain } from "./helpers/main.js";
import { describeMachine, progress } from "./helpers/machine.js";
import { writeReportFile } from "./helpers/report-file.js";
import { freePort } from "./helpers/procs.js";
import { startFerryOneProcess, type Topology } from "./helpers/servers.js";
import { grpcClient, grpcHouseRequest, grpcLoad, imageBytes, jsonHeaders, sequentialMs, v2HouseBody, v2ImageBinary, v2ImageJson } from "./helpers/v2-clients.js";

const rounds = Math.round(envNumber("BENCH_ROUNDS", 3));

interface Round {
  wallarooRps: number;
  v2RestRps: number;
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

async function houseRound(topo: Topology): Promise<Pick<Round, "wallarooRps" | "v2RestRps">> {
  const load = { connections: 32, seconds: timing.seconds, warmupSeconds: timing.warmupSeconds, procs: topo.procs };
  const wallaroo = await measureHttp({ ...load, url: `${topo.url}/pipelines/${pipelines.house}`, body: houseBody, headers: houseHeaders });
  const v2 = await measureHttp({ ...load, url: `${topo.url}/v2/models/${pipelines.house}/infer`, body: v2HouseBody, headers: jsonHeaders });
  if (wallaroo.non2xx + v2.non2xx > 0) throw new Error(`non-2xx replies: Wallaroo ${wallaroo.non2xx}, V2 ${v2.non2xx}`);
  return { wallarooRps: wallaroo.rps, v2RestRps: v2.rps };
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
    const out: Round[] = [];
    for (let r = 1; r <= rounds; r++) {
      progress(`round ${r}/${rounds}: house price at 32 connections, Wallaroo then V2 REST`);
      const house = await houseRound(topo);
      progress(`round ${r}/${rounds}: gRPC, 32 streams, ${timing.seconds} s`);
      const g = await grpcLoad(client, grpcHouseRequest, 32, timing.seconds);
      progress(`round ${r}/${rounds}: image, ${timing.imageRequests} sequential requests each way`);
      out.push({ ...house, grpcRps: g.rps, grpcErrors: g.errors, imageMs: await imageRound(topo.url, raw, arrow) });
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
  lines.push("round | Wallaroo req/s | V2 REST req/s | V2/Wallaroo | gRPC req/s | gRPC/REST | image ms: Arrow | V2 binary | V2 JSON");
  for (const [i, r] of s.rounds.entries()) {
    lines.push(`${i + 1} | ${f(r.wallarooRps, 0)} | ${f(r.v2RestRps, 0)} | ${f(r.v2RestRps / r.wallarooRps)}× | ${f(r.grpcRps, 0)}${r.grpcErrors ? ` (${r.grpcErrors} errors)` : ""} | ${f(r.grpcRps / r.v2RestRps)}× | ${f(r.imageMs.wallarooArrow)} | ${f(r.imageMs.v2Binary)} | ${f(r.imageMs.v2Json)}`);
  }
  return lines.join("\n");
}

benchMain({
  name: "v2", run, render,
  write: (s) => writeReportFile(paths.results, "v2", s),
  passed: (s) => s.rounds.every((r) => r.grpcErrors === 0),
});
