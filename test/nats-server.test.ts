import assert from "node:assert/strict";
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { LogStream } from "@ferry/contracts";
import { MIN_NATS_SERVER, parseServerVersion, requireNatsServer, startNatsServer } from "@ferry/natsd";
import { logStreamConfig, provision, siteAssets, storageSettings } from "@ferry/runtime";
import { parseAs, parseStart, startSite } from "@ferry/cli";
import { freePort } from "./helpers/free-port.js";
import { quiet, startTestNats } from "./helpers/site.js";

/** Debian bookworm's own nats-server (2.9.10) when this machine has it: the server Ferry must refuse. */
const oldServer = ["/usr/sbin/nats-server", "/usr/bin/nats-server"].find((p) => existsSync(p) && isOld(p));

function isOld(path: string): boolean {
  const v = parseServerVersion(execFileSync(path, ["--version"], { encoding: "utf8" }));
  return !!v && (v[0] < MIN_NATS_SERVER[0] || (v[0] === MIN_NATS_SERVER[0] && v[1] < MIN_NATS_SERVER[1]));
}

describe("nats-server 2.10 or newer", () => {
  const cleanup: (() => Promise<void>)[] = [];
  after(async () => { for (const c of cleanup.reverse()) await c(); });

  it("the server Ferry spawns is current: acknowledged writes are synced (sync_interval always) and leaf links compress", async () => {
    const found = requireNatsServer();
    assert.ok(found.version[0] > 2 || found.version[1] >= 10, found.version.join("."));
    const nats = await startTestNats();
    cleanup.push(() => nats.stop());
    assert.match(await readFile(join(nats.dir, "nats-server.conf"), "utf8"), /sync_interval: always/);
    const dir = await mkdtemp(join(tmpdir(), "ferry-leaf-"));
    const hub = await startNatsServer({ dataDir: join(dir, "hub"), port: 0, leafPort: 0 });
    const edge = await startNatsServer({ dataDir: join(dir, "edge"), port: 0, jetstreamDomain: "e1", leafRemotes: [{ url: `nats-leaf://127.0.0.1:${hub.leafPort!}` }] });
    cleanup.push(async () => { await edge.stop(); await hub.stop(); await rm(dir, { recursive: true, force: true }); });
    for (const side of ["hub", "edge"]) assert.match(await readFile(join(dir, side, "nats-server.conf"), "utf8"), /compression: s2_auto/, side);
  });

  it("a leaf remote's own compression mode reaches the config, and the server links with it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ferry-leaf-mode-"));
    const hub = await startNatsServer({ dataDir: join(dir, "hub"), port: 0, leafPort: 0 });
    const lines: string[] = [];
    const edge = await startNatsServer({
      dataDir: join(dir, "edge"), port: 0, jetstreamDomain: "e1", log: (l) => lines.push(l),
      leafRemotes: [{ url: `nats-leaf://127.0.0.1:${hub.leafPort!}`, compression: "s2_best" }],
    });
    cleanup.push(async () => { await edge.stop(); await hub.stop(); await rm(dir, { recursive: true, force: true }); });
    assert.match(await readFile(join(dir, "edge", "nats-server.conf"), "utf8"), /compression: s2_best/);
    assert.ok(!lines.some((l) => /\[(ERR|FTL)\]/.test(l)), lines.join("\n"));
  });

  it("a sync interval other than always reaches the server's config as a duration it accepts", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ferry-sync-"));
    const lines: string[] = [];
    const server = await startNatsServer({ dataDir: dir, port: 0, syncInterval: "120s", log: (l) => lines.push(l) });
    cleanup.push(async () => { await server.stop(); await rm(dir, { recursive: true, force: true }); });
    assert.match(await readFile(join(dir, "nats-server.conf"), "utf8"), /sync_interval: "120s"/);
    assert.ok(!lines.some((l) => /invalid use of field|error/i.test(l)), lines.join("\n"));
  });

  it("--nats-sync takes always or a duration", () => {
    assert.equal(parseAs("start", ["start"], {}).natsSync, "always");
    assert.equal(parseAs("start", ["start", "--nats-sync", "2m"], {}).natsSync, "120s");
    assert.equal(parseAs("start", ["start"], { FERRY_NATS_SYNC: "10s" }).natsSync, "10s");
    assert.throws(() => parseAs("start", ["start", "--nats-sync", "sometimes"], {}), /--nats-sync must be `always` or a duration/);
  });

  it("refuses a server older than 2.10 and says how to get a newer one", { skip: oldServer ? false : "no nats-server older than 2.10 on this machine" }, () => {
    assert.throws(() => requireNatsServer({ FERRY_NATS_SERVER: oldServer! }), (err: Error) => {
      assert.match(err.message, /is too old: Ferry needs 2\.10\.0 or newer/);
      assert.match(err.message, /scripts\/setup\.sh|FERRY_NATS_SERVER/);
      return true;
    });
  });

  it("refuses a server given by --nats-url that is older than 2.10, at once", { skip: oldServer ? false : "no nats-server older than 2.10 on this machine" }, async () => {
    const dir = await mkdtemp(join(tmpdir(), "ferry-old-nats-"));
    const port = await freePort();
    const child: ChildProcess = spawn(oldServer!, ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir], { stdio: "ignore" });
    cleanup.push(async () => { child.kill("SIGKILL"); await rm(dir, { recursive: true, force: true }); });
    await sleep(500);
    const started = Date.now();
    const args = ["start", "gateway", "--nats-url", `nats://127.0.0.1:${port}`, "--port", "0", "--host", "127.0.0.1", "--log-level", "silent"];
    await assert.rejects(startSite(parseStart(args, {})!.options, quiet), /is nats-server 2\.9\.\d+: Ferry needs 2\.10\.0 or newer/);
    assert.ok(Date.now() - started < 10_000, "refused without waiting out --start-wait");
  });

  it("a site made by an older Ferry (uncompressed streams) is upgraded in place, keeping its records", async () => {
    const nats = await startTestNats(undefined, []);
    cleanup.push(() => nats.stop());
    const nc = await connect({ servers: nats.url });
    cleanup.push(() => nc.close());
    const jsm = await jetstreamManager(nc);
    const { compression: _dropped, ...older } = logStreamConfig(storageSettings());
    await jsm.streams.add(older);
    assert.equal((await jsm.streams.info(LogStream)).config.compression ?? "none", "none");
    await jetstream(nc).publish("ferry.log.p.site", '{"time":1}');
    const done = await provision(nc, siteAssets(storageSettings()));
    assert.equal(done.find((r) => r.name === LogStream)?.action, "updated");
    const info = await jsm.streams.info(LogStream);
    assert.equal(info.config.compression, "s2");
    assert.equal(info.state.messages, 1);
    for (const name of ["FERRY_RESULTS"]) assert.equal((await jsm.streams.info(name)).config.compression, "s2");
  });
});
