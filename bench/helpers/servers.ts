import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { startNatsServer } from "@ferry/natsd";
import { paths, repoRoot } from "./config.js";
import {
  Cleanup, childPids, commandLine, exited, freePort, memoryKiB, spawnChild, type Child, type Proc,
} from "./procs.js";

/** Peak and current resident memory of one server process, MiB. */
export interface Memory {
  label: string;
  peakMiB: number;
  rssMiB: number;
}

/** A server (set) under test. */
export interface Topology {
  name: string;
  url: string;
  procs: Proc[];
  /** Idempotent: stops every process and removes temp dirs. */
  stop(): Promise<void>;
}

const readyTimeoutMs = 30_000;

/** Reads VmHWM/VmRSS of each process now (call before stopping). */
export function memoryOf(procs: readonly Proc[]): Memory[] {
  return procs.map((p) => {
    const m = memoryKiB(p.pid);
    return { label: p.label, peakMiB: m ? Math.round(m.peak / 102.4) / 10 : Number.NaN, rssMiB: m ? Math.round(m.now / 102.4) / 10 : Number.NaN };
  });
}

function topology(name: string, url: string, procs: Proc[], cleanup: Cleanup): Topology {
  return { name, url, procs, stop: () => cleanup.run() };
}

/** Runs `body` with a fresh Cleanup; on failure tears down what it started and rethrows. */
async function building<T>(body: (cleanup: Cleanup) => Promise<T>): Promise<T> {
  const cleanup = new Cleanup();
  try {
    return await body(cleanup);
  } catch (err) {
    await cleanup.run();
    throw err;
  }
}

async function tempDir(cleanup: Cleanup): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "ferry-bench-"));
  cleanup.defer(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function pipelineFlags(manifests: readonly string[]): string[] {
  return manifests.flatMap((m) => ["--pipeline", m]);
}

function spawnCli(label: string, args: readonly string[], cleanup: Cleanup): Child {
  const child = spawnChild(label, process.execPath, [paths.cliMain, "start", ...args, "--log-level", "warn"], repoRoot);
  cleanup.defer(() => child.stop());
  return child;
}

/** Polls GET /pipelines until every named pipeline is Running; fails fast when a child exits. */
async function waitForPipelines(url: string, names: readonly string[], children: readonly Child[]): Promise<void> {
  const deadline = Date.now() + readyTimeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    const dead = children.find(exited);
    if (dead) throw new Error(`${dead.label} exited before it was ready:\n${dead.output()}`);
    try {
      const body = (await (await fetch(`${url}/pipelines`)).json()) as { pipelines?: { id: string; status: string }[] };
      last = JSON.stringify(body);
      if (names.every((n) => body.pipelines?.some((p) => p.id === n && p.status === "Running"))) return;
    } catch (err) {
      last = String(err); // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${url}/pipelines did not report ${names.join(", ")} Running within ${readyTimeoutMs} ms: ${last}\n${children.map((c) => c.output()).join("\n")}`);
}

/** SIGKILLs `pid` if it is still a nats-server (a CLI killed after its grace period leaves it behind). */
function killStrayNats(pid: number | undefined): Promise<void> {
  if (pid !== undefined && commandLine(pid).includes("nats-server")) process.kill(pid, "SIGKILL");
  return Promise.resolve();
}

/** `ferry start` with everything in one process; it spawns its own nats-server as a child. */
export async function startFerryOneProcess(name: string, manifests: readonly string[], pipelines: readonly string[]): Promise<Topology> {
  return building(async (cleanup) => {
    const data = await tempDir(cleanup);
    const spawned: { natsPid?: number } = {}; // known once Ferry is up; the teardown reads it then
    cleanup.defer(() => killStrayNats(spawned.natsPid));
    const port = await freePort();
    const natsPort = await freePort();
    const ferry = spawnCli("ferry (gateway+inferer+logger)", [
      "--host", "127.0.0.1", "--port", String(port), "--nats-host", "127.0.0.1", "--nats-port", String(natsPort),
      "--data", data, ...pipelineFlags(manifests),
    ], cleanup);
    const url = `http://127.0.0.1:${port}`;
    await waitForPipelines(url, pipelines, [ferry]);
    const natsPid = (await childPids(ferry.pid)).find((pid) => commandLine(pid).includes("nats-server"));
    spawned.natsPid = natsPid;
    const procs: Proc[] = [ferry];
    if (natsPid !== undefined) procs.push({ label: "nats-server (spawned by ferry)", pid: natsPid, node: false });
    return topology(name, url, procs, cleanup);
  });
}

/** A nats-server started here, then `ferry start inferer logger` and `ferry start gateway` as two children. */
export async function startFerryTwoProcesses(name: string, manifests: readonly string[], pipelines: readonly string[]): Promise<Topology> {
  return building(async (cleanup) => {
    const data = await tempDir(cleanup);
    const nats = await startNatsServer({ dataDir: join(data, "nats"), port: 0, host: "127.0.0.1" });
    cleanup.defer(() => nats.stop());
    const natsFlags = ["--nats-url", nats.url, ...pipelineFlags(manifests)];
    const inferer = spawnCli("ferry inferer+logger", ["inferer", "logger", ...natsFlags], cleanup);
    const port = await freePort();
    const gateway = spawnCli("ferry gateway", ["gateway", "--host", "127.0.0.1", "--port", String(port), ...natsFlags], cleanup);
    const url = `http://127.0.0.1:${port}`;
    await waitForPipelines(url, pipelines, [inferer, gateway]);
    const procs: Proc[] = [gateway, inferer, { label: "nats-server", pid: nats.process.pid ?? -1, node: false }];
    return topology(name, url, procs, cleanup);
  });
}

/** Resolves with the first stdout line matching `pattern`; fails when the child exits first. */
function waitForLine(child: Child, pattern: RegExp): Promise<RegExpExecArray> {
  return new Promise((res, rej) => {
    let buffered = "";
    const timer = setTimeout(() => {
      done(new Error(`${child.label} printed no ${String(pattern)} within ${readyTimeoutMs} ms:\n${child.output()}`));
    }, readyTimeoutMs);
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString("utf8");
      const m = pattern.exec(buffered);
      if (m) done(m);
    };
    const onExit = (): void => {
      done(new Error(`${child.label} exited before it was ready:\n${child.output()}`));
    };
    function done(outcome: RegExpExecArray | Error): void {
      clearTimeout(timer);
      child.process.stdout?.off("data", onData);
      child.process.off("exit", onExit);
      if (outcome instanceof Error) rej(outcome);
      else res(outcome);
    }
    child.process.stdout?.on("data", onData);
    child.process.once("exit", onExit);
  });
}

/** Baseline (b): bench/bare-server.js, one Fastify route calling onnxruntime in-process. */
export async function startBareServer(name: string): Promise<Topology> {
  return building(async (cleanup) => {
    const child = spawnChild("bare fastify+ort", process.execPath, [paths.bareServer, paths.houseModel], repoRoot);
    cleanup.defer(() => child.stop());
    const m = await waitForLine(child, /"url":"(http:\/\/127\.0\.0\.1:\d+)"/);
    return topology(name, m[1], [child], cleanup);
  });
}
