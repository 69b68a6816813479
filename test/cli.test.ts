import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tableFromIPC } from "apache-arrow";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { InferenceRecord } from "@ferry/contracts";
import { houseRef, root } from "./helpers/paths.js";
import { PANDAS, houseRecords, post, startTestNats, until } from "./helpers/site.js";
import { freePort } from "./helpers/free-port.js";

const cli = join(root, "cli", "dist", "main.js");

async function waitForLogs(url: string, n: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const res = await fetch(`${url}/logs`, { method: "POST", body: "{}", headers: { "Content-Type": "application/json" } });
    if (((await res.json()) as unknown[]).length >= n) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`fewer than ${n} log records`);
}

describe("the ferry command", () => {
  it("--help lists every option with its environment variable", () => {
    const r = spawnSync(process.execPath, [cli, "--help"], { encoding: "utf8" });
    assert.equal(r.status, 0);
    for (const word of ["--port", "FERRY_PORT", "--data", "FERRY_DATA", "--nats-port", "FERRY_NATS_PORT", "NATS_URL", "--log-level", "--pipeline", "start"]) {
      assert.ok(r.stdout.includes(word), `help lacks ${word}`);
    }
  });

  it("rejects an unknown service with a clear message", () => {
    const r = spawnSync(process.execPath, [cli, "start", "toaster"], { encoding: "utf8" });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown service "toaster"/);
  });

  it("`ferry start` spawns nats-server, serves the demo, prints the URL, and stops cleanly on Ctrl-C", { timeout: 60_000 }, async () => {
    const data = await mkdtemp(join(tmpdir(), "ferry-cli-"));
    const child = spawn(process.execPath, [cli, "start", "--port", "0", "--nats-port", "0", "--host", "127.0.0.1", "--data", data, "--log-level", "warn"], { stdio: ["ignore", "pipe", "pipe"] });
    try {
      let out = "";
      child.stdout.on("data", (c: Buffer) => { out += c.toString(); });
      child.stderr.on("data", (c: Buffer) => { out += c.toString(); });
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no "Ferry is up" line:\n${out}`)), 30_000);
        child.stdout.on("data", () => {
          const m = /Ferry is up\. HTTP: (http:\/\/\S+) {2}NATS: (nats:\/\/\S+)/.exec(out);
          if (m) { clearTimeout(timer); resolve(m[1]!); }
        });
        child.once("exit", (code) => reject(new Error(`exited with ${code}:\n${out}`)));
      });
      assert.match(out, /curl -X POST .*\/infer/);
      const p = (await (await fetch(`${url}/pipelines`)).json()) as { pipelines: { id: string; status: string }[] };
      assert.ok(p.pipelines.some((x) => x.id === "edge-houseprice" && x.status === "Running"));
      const r = await post(`${url}/infer`, houseRecords([houseRef.rows[0]!]), { "Content-Type": PANDAS });
      assert.equal(r.status, 200);
      assert.equal((r.json as InferenceRecord[])[0]!.pipeline_name, "edge-houseprice");
      assert.equal((await readdir(join(data, "nats", "run"))).filter((f) => f.endsWith(".ports")).length, 1, "nats-server is running");
      await post(`${url}/infer`, houseRecords(houseRef.rows), { "Content-Type": PANDAS });
      await waitForLogs(url, 21);
      const json = spawnSync(process.execPath, [cli, "logs", "--url", url, "--page-size", "4", "--out", join(data, "logs.json")], { encoding: "utf8" });
      assert.equal(json.status, 0, json.stderr);
      assert.equal((JSON.parse(await readFile(join(data, "logs.json"), "utf8")) as unknown[]).length, 21);
      const arrow = spawnSync(process.execPath, [cli, "logs", "--url", url, "--page-size", "5", "--out", join(data, "logs.arrow")], { encoding: "utf8" });
      assert.equal(arrow.status, 0, arrow.stderr);
      assert.equal(tableFromIPC(await readFile(join(data, "logs.arrow"))).numRows, 21);
      const lines = spawnSync(process.execPath, [cli, "logs", "--url", url, "--limit", "2"], { encoding: "utf8" });
      assert.equal(lines.stdout.trim().split("\n").length, 2);
      const exit = new Promise<number | null>((res) => child.once("exit", (code) => res(code)));
      child.kill("SIGINT");
      assert.equal(await exit, 0);
      assert.deepEqual((await readdir(join(data, "nats", "run"))).filter((f) => f.endsWith(".ports")), [], "nats-server stopped (it removes its ports file)");
      assert.ok((await readdir(join(data, "nats", "jetstream"))).length >= 0, "the JetStream store lives under --data");
    } finally {
      child.kill("SIGKILL");
      await rm(data, { recursive: true, force: true });
    }
  });

  it("`ferry start gateway --gateways 2` serves one port from two processes and stops them all", { timeout: 60_000 }, async () => {
    const nats = await startTestNats();
    const port = await freePort();
    const child = spawn(process.execPath, [cli, "start", "gateway", "--nats-url", nats.url, "--gateways", "2", "--port", String(port), "--host", "127.0.0.1", "--log-level", "warn"], { stdio: "ignore" });
    try {
      await until("the gateways to listen", async () => (await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined))?.status === 200, 20_000);
      const workers = spawnSync("ps", ["--ppid", String(child.pid), "-o", "pid="], { encoding: "utf8" }).stdout.trim().split("\n").filter(Boolean);
      assert.equal(workers.length, 2, "two gateway processes under the primary");
      const answers = await Promise.all(Array.from({ length: 20 }, () => fetch(`http://127.0.0.1:${port}/pipelines`).then((r) => r.status)));
      assert.ok(answers.every((s) => s === 200));
      const exit = new Promise<number | null>((res) => child.once("exit", (code) => res(code)));
      child.kill("SIGTERM");
      assert.equal(await exit, 0);
      for (const pid of workers) assert.throws(() => process.kill(Number(pid), 0), "every gateway process stopped");
    } finally {
      child.kill("SIGKILL");
      await nats.stop();
    }
  });
});
