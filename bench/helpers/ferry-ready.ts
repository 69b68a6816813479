import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { paths, repoRoot } from "./config.js";
import { Cleanup, childPids, commandLine, exited, freePort, spawnChild, type Child, type Proc } from "./procs.js";

const readyTimeoutMs = 30_000;

/** Polls GET /pipelines until `pipeline` is Running; fails fast when the child exits. */
export async function waitForPipeline(url: string, pipeline: string, child: Child): Promise<void> {
  const deadline = Date.now() + readyTimeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    if (exited(child)) throw new Error(`${child.label} exited before it was ready:\n${child.output()}`);
    try {
      const body = (await (await fetch(`${url}/pipelines`)).json()) as { pipelines?: { id: string; status: string }[] };
      last = JSON.stringify(body);
      if (body.pipelines?.some((p) => p.id === pipeline && p.status === "Running")) return;
    } catch (err) {
      last = String(err); // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${url}/pipelines did not report ${pipeline} Running within ${readyTimeoutMs} ms: ${last}\n${child.output()}`);
}

/** A `ferry start` child process with the URL of the nats-server it spawned. */
export interface FerryChild {
  url: string;
  natsUrl: string;
  procs: Proc[];
  child: Child;
  /** Idempotent: stops Ferry (and its nats-server) and removes its data dir. */
  stop(): Promise<void>;
}

/**
 * `ferry start` (all services in one process, spawning its own nats-server) on loopback ports and a temp
 * data dir, serving `manifest`, with `extraArgs` appended; resolves once `pipeline` is Running.
 */
export async function startFerryChild(label: string, manifest: string, pipeline: string, extraArgs: readonly string[] = []): Promise<FerryChild> {
  const cleanup = new Cleanup();
  try {
    const data = await mkdtemp(join(tmpdir(), "ferry-bench-"));
    cleanup.defer(() => rm(data, { recursive: true, force: true }));
    const spawned: { natsPid?: number } = {};
    // A CLI killed after its grace period would leave its nats-server behind.
    cleanup.defer(() => {
      const pid = spawned.natsPid;
      if (pid !== undefined && commandLine(pid).includes("nats-server")) process.kill(pid, "SIGKILL");
      return Promise.resolve();
    });
    const port = await freePort();
    const natsPort = await freePort();
    const child = spawnChild(label, process.execPath, [
      paths.cliMain, "start", "--host", "127.0.0.1", "--port", String(port), "--nats-host", "127.0.0.1",
      "--nats-port", String(natsPort), "--data", data, "--pipeline", manifest, "--log-level", "warn", ...extraArgs,
    ], repoRoot);
    cleanup.defer(() => child.stop());
    const url = `http://127.0.0.1:${port}`;
    await waitForPipeline(url, pipeline, child);
    spawned.natsPid = (await childPids(child.pid)).find((pid) => commandLine(pid).includes("nats-server"));
    const procs: Proc[] = [child];
    if (spawned.natsPid !== undefined) procs.push({ label: "nats-server", pid: spawned.natsPid, node: false });
    // The site's server requires a user: the bench reads and counts as its admin.
    const { admin } = JSON.parse(await readFile(join(data, "nats", "users.json"), "utf8")) as { admin: string };
    return { url, natsUrl: `nats://admin:${encodeURIComponent(admin)}@127.0.0.1:${natsPort}`, procs, child, stop: () => cleanup.run() };
  } catch (err) {
    await cleanup.run();
    throw err;
  }
}
