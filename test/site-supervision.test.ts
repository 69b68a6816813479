import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { LogStream } from "@ferry/contracts";
import { houseRef, root } from "./helpers/paths.js";
import { isAlive, natsServerPid } from "./helpers/processes.js";
import { PANDAS, houseRecords, until } from "./helpers/site.js";

const cli = join(root, "cli", "dist", "main.js");

/** A `ferry start` child and what its banner said. */
interface CliSite {
  child: ChildProcess;
  url: string;
  natsUrl: string;
  output(): string;
  exited: Promise<number | null>;
}

/** Starts `ferry start` on `data`; resolves once it printed its banner (or rejects with its output when it exits first). */
async function startCli(data: string, extra: string[] = []): Promise<CliSite> {
  const child = spawn(process.execPath, [cli, "start", "--port", "0", "--nats-port", "0", "--host", "127.0.0.1", "--data", data, "--log-level", "warn", ...extra], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (c: Buffer) => { out += c.toString(); });
  child.stderr!.on("data", (c: Buffer) => { out += c.toString(); });
  const exited = new Promise<number | null>((res) => child.once("exit", (code) => res(code)));
  const [url, natsUrl] = await new Promise<[string, string]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "Ferry is up" line:\n${out}`)), 30_000);
    child.stdout!.on("data", () => {
      const m = /Ferry is up\. HTTP: (http:\/\/\S+) {2}NATS: (nats:\/\/\S+)/.exec(out);
      if (m) { clearTimeout(timer); resolve([m[1]!, m[2]!]); }
    });
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`exited with ${code}:\n${out}`)); });
  });
  return { child, url, natsUrl, output: () => out, exited };
}

/** The pid of the site's spawned nats-server. */
async function natsPid(data: string): Promise<number> {
  const pid = await natsServerPid(data);
  assert.ok(pid, "a ports file");
  return pid;
}

/** One single-row house request, its first feature made unique (`tag`) so that its log record can be found. */
async function inferTagged(url: string, tag: number): Promise<number> {
  const row = [tag, ...houseRef.rows[0]!.slice(1)];
  try {
    const res = await fetch(`${url}/infer`, { method: "POST", body: houseRecords([row]), headers: { "Content-Type": PANDAS } });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

/** The first feature of every stored log record's `in.tensor`. */
async function storedTags(natsUrl: string, data: string): Promise<Set<number>> {
  // The site's admin, whose password the site keeps in its data folder (0600).
  const { admin } = JSON.parse(readFileSync(join(data, "nats", "users.json"), "utf8")) as { admin: string };
  const nc = await connect({ servers: natsUrl, user: "admin", pass: admin });
  try {
    const jsm = await jetstreamManager(nc);
    const { first_seq: first, last_seq: last, messages } = (await jsm.streams.info(LogStream)).state;
    const tags = new Set<number>();
    for (let seq = first; messages > 0 && seq <= last; seq++) {
      const m = await jsm.streams.getMessage(LogStream, { seq });
      for (const line of m ? m.string().split("\n") : []) {
        const r = JSON.parse(line) as { in: { tensor?: number[] } };
        if (r.in.tensor) tags.add(r.in.tensor[0]!);
      }
    }
    return tags;
  } finally {
    await nc.close();
  }
}

describe("a site heals itself: its nats-server is supervised", () => {
  let data: string;
  let site: CliSite;
  before(async () => {
    data = await mkdtemp(join(tmpdir(), "ferry-supervised-"));
    site = await startCli(data);
  });
  after(async () => {
    site.child.kill("SIGKILL");
    spawnSync("pkill", ["-KILL", "-f", join(data, "nats")]);
    await rm(data, { recursive: true, force: true });
  });

  it("kill -9 of the nats-server under load, three times: serves again within 5 s, and every answered inference has its record", { timeout: 120_000 }, async (t) => {
    let tag = 100_000;
    const answered: number[] = [];
    const statuses = new Map<number, number>();
    let running = true;
    const clients = Array.from({ length: 4 }, async () => {
      while (running) {
        const mine = tag++;
        const status = await inferTagged(site.url, mine);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (status === 200) answered.push(mine);
      }
    });
    try {
      for (let kill = 1; kill <= 3; kill++) {
        await until("load answered", async () => answered.length >= 50 * kill, 20_000);
        const pid = await natsPid(data);
        const killed = Date.now();
        process.kill(pid, "SIGKILL");
        await until("the old server gone", async () => !isAlive(pid), 5000);
        const health = await fetch(`${site.url}/health`);
        const body = await health.json() as { status: string };
        t.diagnostic(`kill ${kill}: /health right after ${health.status} ${body.status}`);
        await until("/health 200 again", async () => (await fetch(`${site.url}/health`)).status === 200, 5000);
        const healthy = Date.now() - killed;
        await until("an inference answered again", async () => (await inferTagged(site.url, -kill)) === 200, 5000);
        t.diagnostic(`kill ${kill}: /health 200 after ${healthy} ms, an inference answered after ${Date.now() - killed} ms`);
        assert.notEqual(await natsPid(data), pid, "a new nats-server");
      }
    } finally {
      running = false;
      await Promise.all(clients);
    }
    t.diagnostic(`statuses: ${JSON.stringify(Object.fromEntries(statuses))}`);
    assert.deepEqual([...statuses.keys()].filter((s) => s !== 200 && s !== 503), [], "only 200 or 503 (while NATS was away)");
    let missing: number[] = [];
    await until("every answered inference's record stored", async () => {
      const stored = await storedTags(site.natsUrl, data);
      missing = answered.filter((x) => !stored.has(x));
      return missing.length === 0;
    }, 15_000).catch(() => undefined);
    assert.deepEqual(missing, [], `${missing.length} of ${answered.length} answered inferences have no log record`);
    const metrics = await (await fetch(`${site.url}/metrics`)).text();
    assert.match(metrics, /ferry_nats_server_restarts_total\{[^}]*\} 3\b/);
    assert.match(site.output(), /nats-server exited; starting it again/);
  });

  it("while its nats-server is away, /pipelines answers at once with the last known state as Error, /infer 503 with Retry-After", { timeout: 60_000 }, async () => {
    const before = await (await fetch(`${site.url}/pipelines`)).json() as { pipelines: { id: string; status: string }[] };
    assert.ok(before.pipelines.some((p) => p.status === "Running"));
    // Stopped (not killed): the supervisor sees no exit, so NATS stays away while the routes are tried.
    const pid = await natsPid(data);
    process.kill(pid, "SIGSTOP");
    try {
      // The gateway notices when its pings go unanswered; a stopped server still holds the socket open.
      await until("the gateway notices", async () => (await fetch(`${site.url}/health`)).status === 503, 30_000);
      const [pipelines, models, infer] = await Promise.all([fetch(`${site.url}/pipelines`), fetch(`${site.url}/models`), fetch(`${site.url}/infer`, { method: "POST", body: houseRecords([houseRef.rows[0]!]), headers: { "Content-Type": PANDAS } })]);
      const p = await pipelines.json() as { pipelines: { id: string; status: string; detail?: string }[] };
      assert.equal(pipelines.status, 200);
      assert.ok(p.pipelines.length >= 1 && p.pipelines.every((x) => x.status === "Error" && /last known state/.test(x.detail ?? "")), JSON.stringify(p));
      assert.ok(p.pipelines.some((x) => x.id === before.pipelines[0]!.id));
      const m = await models.json() as { models: { status: string }[] };
      assert.ok(m.models.length >= 1 && m.models.every((x) => x.status === "Error"), JSON.stringify(m));
      assert.equal(infer.status, 503);
      assert.equal(infer.headers.get("retry-after"), "1");
      assert.equal((await infer.json() as { code: string }).code, "unavailable");
    } finally {
      process.kill(pid, "SIGCONT");
    }
    await until("/health 200 again", async () => (await fetch(`${site.url}/health`)).status === 200, 20_000);
  });

  it("a second start on the same folder exits non-zero with the reason, and the first keeps serving", { timeout: 60_000 }, async () => {
    const pid = await natsPid(data);
    const second = spawnSync(process.execPath, [cli, "start", "--port", "0", "--nats-port", "0", "--host", "127.0.0.1", "--data", data, "--log-level", "warn"], { encoding: "utf8", timeout: 30_000 });
    assert.notEqual(second.status, 0);
    assert.match(second.stderr, new RegExp(`in use by another Ferry \\(pid ${site.child.pid}`));
    assert.ok(isAlive(pid), "the first site's nats-server still runs");
    assert.equal(await inferTagged(site.url, 7), 200);
  });

  it("Ctrl-C stops it within 5 s even when its nats-server has just died", { timeout: 30_000 }, async () => {
    process.kill(await natsPid(data), "SIGKILL");
    const t0 = Date.now();
    site.child.kill("SIGINT");
    const code = await Promise.race([site.exited, new Promise<string>((r) => setTimeout(() => r("still running"), 5000))]);
    assert.notEqual(code, "still running", `still running 5 s after SIGINT:\n${site.output().slice(-2000)}`);
    assert.equal(typeof code, "number", `exit code after ${Date.now() - t0} ms`);
  });

  it("kill -9 of Ferry and its nats-server together under load: after a restart every answered inference has its record (--log-ack sync, the default)", { timeout: 90_000 }, async (t) => {
    if (site.child.exitCode === null && site.child.signalCode === null) {
      site.child.kill("SIGINT");
      await site.exited;
    }
    site = await startCli(data, process.env.FERRY_TEST_LOG_ACK ? ["--log-ack", process.env.FERRY_TEST_LOG_ACK] : []);
    let tag = 500_000;
    const answered: number[] = [];
    let running = true;
    const clients = Array.from({ length: 4 }, async () => {
      while (running) {
        const mine = tag++;
        if ((await inferTagged(site.url, mine)) === 200) answered.push(mine);
      }
    });
    await until("load answered", async () => answered.length >= 200, 30_000);
    // As a power cut would: both at once, nothing flushed or drained.
    const nats = await natsPid(data);
    site.child.kill("SIGKILL");
    process.kill(nats, "SIGKILL");
    running = false;
    await Promise.all(clients);
    await site.exited;
    site = await startCli(data);
    const stored = await storedTags(site.natsUrl, data);
    const missing = answered.filter((x) => !stored.has(x));
    t.diagnostic(`${answered.length} answered before the kill, ${stored.size} records stored`);
    assert.deepEqual(missing, [], `${missing.length} of ${answered.length} answered inferences have no log record`);
  });

  it("after Ferry itself is killed outright, the next start cleans up its orphaned nats-server and serves", { timeout: 60_000 }, async () => {
    site.child.kill("SIGINT");
    await site.exited;
    site = await startCli(data);
    const orphan = await natsPid(data);
    site.child.kill("SIGKILL");
    await site.exited;
    assert.ok(isAlive(orphan), "the orphaned nats-server outlived its Ferry");
    site = await startCli(data);
    assert.ok(!isAlive(orphan), "the orphan was stopped");
    assert.equal(await inferTagged(site.url, 8), 200);
  });
});
