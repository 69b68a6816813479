import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { root } from "./helpers/paths.js";
import { isAlive, natsServerPid } from "./helpers/processes.js";
import { until } from "./helpers/site.js";

/** Ferry's pid (its data folder's lock) and its nats-server's (the server's ports file). */
async function sitePids(data: string): Promise<{ ferry: number; nats: number }> {
  const lock = JSON.parse(await readFile(join(data, "ferry.lock"), "utf8")) as { pid: number };
  const nats = await natsServerPid(data);
  assert.ok(nats, "a ports file");
  return { ferry: lock.pid, nats };
}

describe("npm start: signals reach Ferry", () => {
  it("SIGINT sent to npm's own pid stops Ferry and its nats-server", async () => {
    const data = await mkdtemp(join(tmpdir(), "ferry-npm-start-"));
    const npm = spawn("npm", ["start", "--silent", "--", "--port", "0", "--nats-port", "0", "--host", "127.0.0.1", "--data", data, "--log-level", "warn"],
      { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    npm.stdout.on("data", (c: Buffer) => { out += c.toString(); });
    npm.stderr.on("data", (c: Buffer) => { out += c.toString(); });
    const exited = new Promise<number | null>((res) => npm.once("exit", (code) => res(code)));
    let pids: { ferry: number; nats: number } | undefined;
    try {
      await until("Ferry to be up", async () => /Ferry is up\./.test(out) || npm.exitCode !== null, 120_000);
      assert.match(out, /Ferry is up\./, out);
      pids = await sitePids(data);
      assert.ok(isAlive(pids.ferry) && isAlive(pids.nats));
      npm.kill("SIGINT");
      await until("Ferry and its nats-server to stop", async () => !isAlive(pids!.ferry) && !isAlive(pids!.nats), 20_000)
        .catch(() => assert.fail(`after SIGINT to npm (pid ${npm.pid}): Ferry (pid ${pids!.ferry}) alive: ${isAlive(pids!.ferry)}, nats-server (pid ${pids!.nats}) alive: ${isAlive(pids!.nats)}\n${out}`));
      await exited;
    } finally {
      // What a failed run left behind: Ferry stops its own server on SIGTERM.
      if (pids && isAlive(pids.ferry)) process.kill(pids.ferry, "SIGTERM");
      if (npm.exitCode === null) npm.kill("SIGKILL");
      if (pids) await until("leftovers to stop", async () => !isAlive(pids!.ferry) && !isAlive(pids!.nats), 20_000).catch(() => undefined);
      await rm(data, { recursive: true, force: true });
    }
  });
});
