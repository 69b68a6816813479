import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { connect as tlsConnect, type ConnectionOptions as TlsOptions } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { connect, headers as natsHeaders, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { Headers, LogStream, inferSubject, type InferenceRecord } from "@ferry/contracts";
import { NatsRoles, siteAssets, storageSettings, streamNameOf } from "@ferry/runtime";
import { natsSecret, parseStart, secretPasswords, startSite, type Site } from "@ferry/cli";
import { caFingerprint, makeCa } from "@ferry/natsd";
import { untilJetStream } from "./helpers/cluster.js";
import { freePort } from "./helpers/free-port.js";
import { houseRef, manifests, root } from "./helpers/paths.js";
import { PANDAS, houseRecords, post, quiet, relDiff, until } from "./helpers/site.js";
import { plainNats, tlsAfterInfo } from "./helpers/tls-probe.js";

const cli = join(root, "cli", "dist", "main.js");

/**
 * The first line a server sends on a fresh TLS connection to `port` (a route port: TLS first, then INFO),
 * and what it answers to `send`. Rejects when the connection fails or closes first.
 */
function talk(port: number, tls: TlsOptions, send: string): Promise<{ info: string; answer: string }> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: "127.0.0.1", port, servername: "localhost", ...tls });
    let text = "";
    let info = "";
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no answer from :${port}: ${JSON.stringify(text)}`)); }, 10_000);
    socket.on("close", () => { clearTimeout(timer); reject(new Error(`closed by :${port} after ${JSON.stringify(info + text)}`)); });
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

/** `ferry tls init` as compose.yaml's certs service runs it: the CA's key apart from what servers get. */
function tlsInit(out: string, caDir: string): string {
  const r = spawnSync(process.execPath, [cli, "tls", "init", "--out", out, "--ca-dir", caDir, "--hosts", "localhost,127.0.0.1"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

describe("a NATS cluster whose users derive from FERRY_NATS_SECRET, routes and clients over TLS (compose.yaml's topology, as processes' code on loopback)", () => {
  const secret = randomBytes(24).toString("base64");
  const env = { FERRY_NATS_SECRET: secret };
  const passwords = secretPasswords(secret);
  const dirs: string[] = [];
  const servers: Site[] = [];
  const ports: number[] = [];
  const routePorts: number[] = [];
  const callerCa = process.env.FERRY_NATS_CA;
  let site: Site;
  let urls: string[];
  let certs: { dir: string; ca: string; cert: string; key: string; fingerprint: string };
  /** What a client that trusts the cluster's CA adds to its connect options. */
  let tls: { caFile: string };

  before(async () => {
    for (let i = 0; i < 3; i++) {
      ports.push(await freePort());
      routePorts.push(await freePort());
      dirs.push(await mkdtemp(join(tmpdir(), `ferry-cluster-users-${i}-`)));
    }
    // compose.yaml's nats:// URLs: the servers' INFO asks for TLS, and the clients check them against FERRY_NATS_CA.
    urls = ports.map((p) => `nats://127.0.0.1:${p}`);
    const dir = await mkdtemp(join(tmpdir(), "ferry-cluster-users-tls-"));
    dirs.push(dir);
    const fingerprint = tlsInit(join(dir, "tls"), join(dir, "tls-ca"));
    certs = { dir, ca: join(dir, "tls", "ca.pem"), cert: join(dir, "tls", "server.pem"), key: join(dir, "tls", "server-key.pem"), fingerprint };
    tls = { caFile: certs.ca };
    // What compose gives every Ferry service; read by this process's services (and their worker threads).
    process.env.FERRY_NATS_CA = certs.ca;
    // The services start first, as compose may start them: they wait for the cluster and its JetStream.
    const siteDir = await mkdtemp(join(tmpdir(), "ferry-cluster-users-site-"));
    dirs.push(siteDir);
    const argv = ["start", "logger", "deployer", "inferer", "gateway", "--nats-url", urls.join(","), "--replicas", "3", "--pipeline", manifests.houseprice,
      "--port", "0", "--host", "127.0.0.1", "--data", siteDir, "--log-level", "silent", "--workers", "1"];
    const starting = startSite(parseStart(argv, env)!.options, quiet);
    starting.catch(() => undefined); // awaited below; a failure must not be unhandled meanwhile
    const routes = (i: number): string => routePorts.filter((_, j) => j !== i).map((p) => `nats-route://127.0.0.1:${p}`).join(",");
    for (let i = 0; i < 3; i++) {
      const argv = ["start", "nats", "--nats-name", `nats-${i + 1}`, "--nats-port", String(ports[i]), "--cluster-port", String(routePorts[i]), "--routes", routes(i), "--data", dirs[i]!, "--log-level", "silent"];
      // compose.yaml's FERRY_TLS_CERT, FERRY_TLS_KEY, FERRY_TLS_CA.
      const tlsEnv = { FERRY_TLS_CERT: certs.cert, FERRY_TLS_KEY: certs.key, FERRY_TLS_CA: certs.ca };
      servers.push(await startSite(parseStart(argv, { ...env, ...tlsEnv })!.options, quiet));
    }
    site = await starting;
    await untilJetStream(urls, 3, 30_000, { user: "admin", pass: passwords.admin, tls });
  });
  after(async () => {
    await site?.stop();
    for (const s of servers.reverse()) await s.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
    if (callerCa === undefined) delete process.env.FERRY_NATS_CA;
    else process.env.FERRY_NATS_CA = callerCa;
  });

  it("services started before the servers wait for them, find their own passwords from the secret: inference, logs, 3 replicas", async () => {
    const r = await post(`${site.url}/pipelines/edge-houseprice`, houseRecords(houseRef.rows.slice(0, 2)), { "Content-Type": PANDAS });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    (r.json as InferenceRecord[]).forEach((rec, i) => assert.ok(relDiff((rec.outputs[0]!.Float!.data as number[])[0]!, houseRef.outputs[i]![0]!) < 1e-4));
    await until("the records in /logs", async () => {
      const logs = await post(`${site.url}/logs`, JSON.stringify({ pipeline_name: "edge-houseprice" }), { "Content-Type": "application/json" });
      return logs.status === 200 && (logs.json as unknown[]).length >= 2;
    });
    const nc = await connect({ servers: urls, user: "admin", pass: passwords.admin, tls });
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
      await assert.rejects(connect({ servers: url, reconnect: false, tls }), /authorization/i, `${url} anonymous`);
      await assert.rejects(connect({ servers: url, reconnect: false, user: "device", pass: "guess", tls }), /authorization/i, `${url} wrong password`);
    }
  });

  it("every server speaks only TLS, with a certificate from ferry tls init: plain text and clients that do not trust its CA are refused", async () => {
    const other = await makeCa("another CA");
    for (const [i, port] of ports.entries()) {
      const plain = await plainNats(port);
      assert.match(plain.info, /"tls_required":true/, `${urls[i]}`);
      assert.doesNotMatch(plain.reply, /PONG/, `${urls[i]} answered plain text`);
      assert.equal((await tlsAfterInfo(port, { ca: other.cert })).ok, false, `${urls[i]} with another CA`);
      const ok = await tlsAfterInfo(port, { ca: await readFile(certs.ca, "utf8") });
      assert.ok(ok.ok && /^TLSv1\.[23]$/.test(String(ok.protocol)), `${urls[i]}: ${JSON.stringify(ok)}`);
    }
    // The servers present the certificate the command made, of the CA whose SHA-256 it printed.
    assert.equal(caFingerprint(await readFile(certs.ca, "utf8")), certs.fingerprint);
    assert.equal(servers[0]!.ca?.sha256, certs.fingerprint);
  });

  it("the route port speaks TLS first and wants a certificate of the cluster's CA; with one, it still refuses a wrong route password", async () => {
    const connectRoute = 'CONNECT {"user":"route","pass":"guess","verbose":false,"pedantic":false,"name":"intruder","cluster":"ferry"}\r\nPING\r\n';
    assert.equal((await plainNats(routePorts[0]!)).info, "", "nothing in clear on a route port");
    const ca = await readFile(certs.ca, "utf8");
    // No client certificate: the server (verify: true) ends the connection before anything is said.
    await assert.rejects(talk(routePorts[0]!, { ca }, connectRoute));
    const { info, answer } = await talk(routePorts[0]!, { ca, cert: await readFile(certs.cert, "utf8"), key: await readFile(certs.key, "utf8") }, connectRoute);
    assert.match(info, /^INFO /);
    assert.match(info, /"auth_required":true/);
    assert.match(answer, /-ERR 'Authorization Violation'/);
    // The three servers did route to each other (TLS, the derived password): an R3 stream exists above.
  });

  it("a cluster beyond loopback without the operator's certificates is refused (compose.yaml before its certs service)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ferry-cluster-users-clear-"));
    dirs.push(dir);
    const argv = ["start", "nats", "--nats-host", "0.0.0.0", "--nats-port", String(await freePort()), "--cluster-port", String(await freePort()),
      "--routes", `nats-route://127.0.0.1:${routePorts[0]}`, "--data", dir, "--log-level", "silent"];
    await assert.rejects(startSite(parseStart(argv, env)!.options, quiet), /routes over the network: give every server --tls-cert, --tls-key and --tls-ca/);
  });

  it("`ferry nats-password device` gives a device what it needs: inference on any server, nothing else", async () => {
    const out = spawnSync(process.execPath, [cli, "nats-password", "device"], { encoding: "utf8", env: { ...process.env, ...env } });
    assert.equal(out.status, 0, out.stderr);
    const pass = out.stdout.trim();
    assert.equal(pass, passwords.device);
    const nc: NatsConnection = await connect({ servers: urls[2]!, user: "device", pass, reconnect: false, tls });
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
