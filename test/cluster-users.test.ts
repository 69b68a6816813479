import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { connect, headers as natsHeaders, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { Headers, LogStream, inferSubject, type InferenceRecord } from "@ferry/contracts";
import { NatsRoles, siteAssets, storageSettings, streamNameOf } from "@ferry/runtime";
import { natsSecret, parseStart, secretPasswords, startSite, type Site } from "@ferry/cli";
import { untilJetStream } from "./helpers/cluster.js";
import { freePort } from "./helpers/free-port.js";
import { houseRef, manifests, root } from "./helpers/paths.js";
import { PANDAS, houseRecords, post, quiet, relDiff, until } from "./helpers/site.js";

const cli = join(root, "cli", "dist", "main.js");

/** The first line a server sends on a fresh TCP connection to `port`, and what it answers to `send`. */
function talk(port: number, send: string): Promise<{ info: string; answer: string }> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(port, "127.0.0.1");
    let text = "";
    let info = "";
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no answer from :${port}: ${JSON.stringify(text)}`)); }, 10_000);
    socket.on("data", (chunk) => {
      text += chunk.toString("utf8");
      if (!info && text.includes("\r\n")) {
        info = text.slice(0, text.indexOf("\r\n"));
        text = text.slice(info.length + 2);
        socket.write(send);
      }
      if (info && /-ERR|PONG/.test(text)) {
        clearTimeout(timer);
        socket.destroy();
        resolve({ info, answer: text });
      }
    });
    socket.on("error", (err) => { clearTimeout(timer); reject(err); });
  });
}

describe("a NATS cluster whose users derive from FERRY_NATS_SECRET (compose.yaml's topology, as processes' code on loopback)", () => {
  const secret = randomBytes(24).toString("base64");
  const env = { FERRY_NATS_SECRET: secret };
  const passwords = secretPasswords(secret);
  const dirs: string[] = [];
  const servers: Site[] = [];
  const ports: number[] = [];
  const routePorts: number[] = [];
  let site: Site;
  let urls: string[];

  before(async () => {
    for (let i = 0; i < 3; i++) {
      ports.push(await freePort());
      routePorts.push(await freePort());
      dirs.push(await mkdtemp(join(tmpdir(), `ferry-cluster-users-${i}-`)));
    }
    urls = ports.map((p) => `nats://127.0.0.1:${p}`);
    // The services start first, as compose may start them: they wait for the cluster and its JetStream.
    dirs.push(await mkdtemp(join(tmpdir(), "ferry-cluster-users-site-")));
    const argv = ["start", "logger", "deployer", "inferer", "gateway", "--nats-url", urls.join(","), "--replicas", "3", "--pipeline", manifests.houseprice,
      "--port", "0", "--host", "127.0.0.1", "--data", dirs[3]!, "--log-level", "silent", "--workers", "1"];
    const starting = startSite(parseStart(argv, env)!.options, quiet);
    starting.catch(() => undefined); // awaited below; a failure must not be unhandled meanwhile
    const routes = (i: number): string => routePorts.filter((_, j) => j !== i).map((p) => `nats-route://127.0.0.1:${p}`).join(",");
    for (let i = 0; i < 3; i++) {
      const argv = ["start", "nats", "--nats-name", `nats-${i + 1}`, "--nats-port", String(ports[i]), "--cluster-port", String(routePorts[i]), "--routes", routes(i), "--data", dirs[i]!, "--log-level", "silent"];
      servers.push(await startSite(parseStart(argv, env)!.options, quiet));
    }
    site = await starting;
    await untilJetStream(urls, 3, 30_000, { user: "admin", pass: passwords.admin });
  });
  after(async () => {
    await site?.stop();
    for (const s of servers.reverse()) await s.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it("services started before the servers wait for them, find their own passwords from the secret: inference, logs, 3 replicas", async () => {
    const r = await post(`${site.url}/pipelines/edge-houseprice`, houseRecords(houseRef.rows.slice(0, 2)), { "Content-Type": PANDAS });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    (r.json as InferenceRecord[]).forEach((rec, i) => assert.ok(relDiff((rec.outputs[0]!.Float!.data as number[])[0]!, houseRef.outputs[i]![0]!) < 1e-4));
    await until("the records in /logs", async () => {
      const logs = await post(`${site.url}/logs`, JSON.stringify({ pipeline_name: "edge-houseprice" }), { "Content-Type": "application/json" });
      return logs.status === 200 && (logs.json as unknown[]).length >= 2;
    });
    const nc = await connect({ servers: urls, user: "admin", pass: passwords.admin });
    try {
      const info = await (await jetstreamManager(nc)).streams.info(LogStream);
      assert.equal(info.config.num_replicas, 3);
      assert.equal(info.cluster?.replicas?.length, 2);
      // `--replicas 3` reached every asset the site uses, however its services started.
      for (const a of siteAssets(storageSettings())) {
        assert.equal((await (await jetstreamManager(nc)).streams.info(streamNameOf(a))).config.num_replicas, 3, streamNameOf(a));
      }
    } finally {
      await nc.close();
    }
  });

  it("every server refuses anonymous clients and wrong passwords", async () => {
    for (const url of urls) {
      await assert.rejects(connect({ servers: url, reconnect: false }), /authorization/i, `${url} anonymous`);
      await assert.rejects(connect({ servers: url, reconnect: false, user: "device", pass: "guess" }), /authorization/i, `${url} wrong password`);
    }
  });

  it("the route port refuses a server without the route password; the routes with it formed the cluster", async () => {
    const { info, answer } = await talk(routePorts[0]!, 'CONNECT {"user":"route","pass":"guess","verbose":false,"pedantic":false,"name":"intruder","cluster":"ferry"}\r\nPING\r\n');
    assert.match(info, /^INFO /);
    assert.match(info, /"auth_required":true/);
    assert.match(answer, /-ERR 'Authorization Violation'/);
    // The three servers did route to each other (with the derived password): an R3 stream exists above.
  });

  it("`ferry nats-password device` gives a device what it needs: inference on any server, nothing else", async () => {
    const out = spawnSync(process.execPath, [cli, "nats-password", "device"], { encoding: "utf8", env: { ...process.env, ...env } });
    assert.equal(out.status, 0, out.stderr);
    const pass = out.stdout.trim();
    assert.equal(pass, passwords.device);
    const nc: NatsConnection = await connect({ servers: urls[2]!, user: "device", pass, reconnect: false });
    try {
      const h = natsHeaders();
      h.set(Headers.contentType, PANDAS);
      const reply = await nc.request(inferSubject("edge-houseprice"), houseRecords(houseRef.rows.slice(0, 1)), { headers: h, timeout: 10_000 });
      assert.equal(reply.headers?.get(Headers.status), "200", reply.string());
      await assert.rejects(nc.request(`$JS.API.STREAM.DELETE.${LogStream}`, "", { timeout: 5000 }), /permission/i);
    } finally {
      await nc.close();
    }
  });

  it("a secret and the cluster flags are checked; each role's password is its own and the same from the same secret", () => {
    assert.throws(() => natsSecret("short"), /at least 16/);
    assert.throws(() => parseStart(["start", "--nats-url", "nats://127.0.0.1:4222"], { FERRY_NATS_SECRET: "short" }), /at least 16/);
    assert.throws(() => parseStart(["start", "nats", "--nats-url", "nats://127.0.0.1:4222"], env), /leave out --nats-url/);
    assert.throws(() => parseStart(["start", "nats", "--routes", "nats-route://127.0.0.1:6222"], env), /--routes needs --cluster-port/);
    assert.throws(() => parseStart(["start", "nats", "--cluster-port", "6222"], env), /--cluster-port needs --routes/);
    assert.equal(natsSecret(""), undefined);
    assert.deepEqual(secretPasswords(secret), passwords);
    assert.equal(new Set(NatsRoles.map((r) => passwords[r])).size, NatsRoles.length);
    assert.notDeepEqual(secretPasswords(`${secret}x`), passwords);
    const noSecret = spawnSync(process.execPath, [cli, "nats-password", "device", "--data", dirs[0]!], { encoding: "utf8", env: { ...process.env, FERRY_NATS_SECRET: "" } });
    assert.equal(noSecret.status, 1);
    assert.match(noSecret.stderr, /no FERRY_NATS_SECRET/);
    const unknownRole = spawnSync(process.execPath, [cli, "nats-password", "root"], { encoding: "utf8", env: { ...process.env, ...env } });
    assert.equal(unknownRole.status, 2);
    assert.match(unknownRole.stderr, /one of admin, gateway/);
    assert.equal(unknownRole.stdout, "");
  });
});
