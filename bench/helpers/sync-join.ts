// Helpers of bench/sync.ts: join time with TLS. For each run a new edge is added at the hub (POST
// /edges: a bundle that names the hub's HTTPS address and pins its CA), then `ferry start --bundle` runs
// as a child process; the clock starts at the spawn. Two moments are taken: the site's GET /health first
// says the link to the hub is up (the join over HTTPS, the pinned CA fetched, the leaf link over TLS and
// a heartbeat answered), and its first POST /infer answered 200 (the pipeline published at the hub, its
// model pulled across the link). Polled every 100 ms.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { houseBody, houseHeaders, paths, repoRoot } from "./config.js";
import { progress } from "./machine.js";
import { exited, freePort, spawnChild, type Child } from "./procs.js";
import { opsPost, type OpsApi } from "./sync-hub.js";

/** One join: seconds from `ferry start --bundle` to the link up and to the first answered /infer. */
export interface JoinRun {
  edge: string;
  linkUpS: number;
  firstInferS: number;
}

/** Polls `check` every 100 ms until it is true; seconds since `t0`. Throws when the child exits or after `timeoutMs`. */
async function until(child: Child, t0: number, timeoutMs: number, what: string, check: () => Promise<boolean>): Promise<number> {
  for (;;) {
    if (await check().catch(() => false)) return (performance.now() - t0) / 1000;
    if (exited(child)) throw new Error(`the edge exited before ${what}:\n${child.output()}`);
    if (performance.now() - t0 > timeoutMs) throw new Error(`no ${what} within ${timeoutMs} ms:\n${child.output()}`);
    await sleep(100);
  }
}

/** One run: a new edge `name` for `pipeline`, started from its bundle in a fresh data folder, then stopped. */
async function joinOnce(api: OpsApi, name: string, pipeline: string): Promise<JoinRun> {
  const added = await opsPost(api, "/edges", JSON.stringify({ name, pipeline }), "application/json");
  const dir = await mkdtemp(join(tmpdir(), "ferry-bench-join-"));
  const port = await freePort();
  const args = [paths.cliMain, "start", "--bundle", String(added.edgeBundle), "--data", dir, "--port", String(port), "--host", "127.0.0.1",
    "--nats-port", String(await freePort()), "--workers", "1", "--log-level", "warn"];
  const t0 = performance.now();
  const child = spawnChild(`edge ${name}`, process.execPath, args, repoRoot);
  try {
    const base = `http://127.0.0.1:${port}`;
    const linkUpS = await until(child, t0, 120_000, "link up", async () => {
      const body = await (await fetch(`${base}/health`)).json() as { link?: { link?: string } };
      return body.link?.link === "up";
    });
    const firstInferS = await until(child, t0, 120_000, "answered /infer", async () => (await fetch(`${base}/infer`, { method: "POST", headers: houseHeaders, body: houseBody })).ok);
    return { edge: name, linkUpS, firstInferS };
  } finally {
    await child.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** `runs` joins one after another (each a new edge of the same hub). */
export async function joinRuns(api: OpsApi, pipeline: string, runs: number): Promise<JoinRun[]> {
  const out: JoinRun[] = [];
  for (let i = 1; i <= runs; i++) {
    const r = await joinOnce(api, `bench-join-${Date.now().toString(36)}-${i}`, pipeline);
    progress(`join ${i}/${runs}: link up ${r.linkUpS.toFixed(2)} s, first /infer ${r.firstInferS.toFixed(2)} s after ferry start --bundle`);
    out.push(r);
  }
  return out;
}
