import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { connect } from "@nats-io/transport-node";
import { decodeEdgeBundle } from "@ferry/contracts";
import { parseStart, startSite, type Site } from "@ferry/cli";
import { fetchTrusting } from "@ferry/runtime";
import { writeFile } from "node:fs/promises";
import { caFingerprint, ensureOwnTls, makeCa, makeServerCert, startNatsServer, type NatsServer, type OwnTls } from "@ferry/natsd";
import { opsPost, publishHousePrice, startTestHub, type TestHub } from "./helpers/hub.js";
import { freePort } from "./helpers/free-port.js";
import { quiet, until } from "./helpers/site.js";
import { plainNats, tlsAfterInfo, tlsHandshake } from "./helpers/tls-probe.js";

/** Every file under `dir`, recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(join(e.parentPath, e.name));
  return out;
}

/** Lets a TLS 1.1 client be tried at all: OpenSSL's default security level refuses it on the client side. */
const tls11 = { minVersion: "TLSv1" as const, maxVersion: "TLSv1.1" as const, ciphers: "DEFAULT@SECLEVEL=0" };

describe("TLS on the Ops hub: the Ops API, the hub's client and leaf ports", () => {
  let hub: TestHub;
  let otherCa: string;
  let ports: { api: number; client: number; leaf: number };

  before(async () => {
    hub = await startTestHub();
    otherCa = (await makeCa("another CA")).cert;
    ports = { api: Number(new URL(hub.ops.url).port), client: Number(new URL(hub.ops.natsUrl).port), leaf: hub.ops.leafPort };
  });
  after(() => hub.destroy());

  it("each listener completes a TLS 1.2+ handshake for a client that trusts the hub's CA", async () => {
    for (const [name, r] of [
      ["api", await tlsHandshake(ports.api, { ca: hub.ops.ca })],
      ["client", await tlsHandshake(ports.client, { ca: hub.ops.ca })],
      ["leaf", await tlsAfterInfo(ports.leaf, { ca: hub.ops.ca })],
    ] as const) {
      assert.ok(r.ok, `${name}: ${JSON.stringify(r)}`);
      assert.match(String(r.protocol), /^TLSv1\.[23]$/, name);
    }
    assert.match(hub.ops.url, /^https:\/\//);
    assert.equal((await hub.fetch(`${hub.ops.url}/edges`, { headers: hub.auth })).status, 200);
  });

  it("a client that trusts another CA is refused on each listener", async () => {
    for (const [name, r] of [
      ["api", await tlsHandshake(ports.api, { ca: otherCa })],
      ["client", await tlsHandshake(ports.client, { ca: otherCa })],
      ["leaf", await tlsAfterInfo(ports.leaf, { ca: otherCa })],
    ] as const) {
      assert.equal(r.ok, false, name);
      if (!r.ok) assert.match(r.error, /SELF_SIGNED|UNABLE_TO_VERIFY|CERT/, name);
    }
    await assert.rejects(fetch(`${hub.ops.url}/edges`), "the system's CAs do not vouch for the hub's own CA either");
  });

  it("TLS 1.1 is refused on each listener", async () => {
    for (const [name, r] of [
      ["api", await tlsHandshake(ports.api, { ca: hub.ops.ca, ...tls11 })],
      ["client", await tlsHandshake(ports.client, { ca: hub.ops.ca, ...tls11 })],
      ["leaf", await tlsAfterInfo(ports.leaf, { ca: hub.ops.ca, ...tls11 })],
    ] as const) {
      assert.equal(r.ok, false, `${name} took TLS 1.1`);
    }
  });

  it("plain text is refused: HTTP to the Ops API, NATS to the client port and to the leaf port", async () => {
    await assert.rejects(fetch(`http://127.0.0.1:${ports.api}/edges`));
    await assert.rejects(connect({ servers: `nats://127.0.0.1:${ports.client}`, user: hub.ops.login.user, pass: hub.ops.login.pass, timeout: 2000, maxReconnectAttempts: 0 }));
    const leaf = await plainNats(ports.leaf);
    assert.match(leaf.info, /"tls_required":true/);
    assert.doesNotMatch(leaf.reply, /PONG/, "a plain leaf connection gets nowhere");
    // The right login over TLS works: the refusals above are about TLS, not credentials.
    const nc = await connect({ servers: hub.ops.natsUrl, user: hub.ops.login.user, pass: hub.ops.login.pass, tls: hub.ops.natsTls, timeout: 5000 });
    await nc.close();
  });

  it("bundles pin the hub's CA; key files are 0600; the hub keeps no edge's private key", async () => {
    await publishHousePrice(hub);
    const added = await opsPost(hub, "/edges", { name: "pinned", pipeline: "edge-houseprice" });
    assert.equal(added.status, 201);
    const bundle = decodeEdgeBundle(added.json.edgeBundle as string);
    const caFile = join(hub.dir, "tls", "ca.pem");
    assert.equal(bundle.OPSCENTER_CA_SHA256, caFingerprint(await readFile(caFile, "utf8")));
    assert.equal(bundle.OPSCENTER_CA_SHA256, new X509Certificate(hub.ops.ca).fingerprint256.replace(/:/g, "").toLowerCase());
    for (const f of ["ca.pem", "ca-key.pem", "server.pem", "server-key.pem"]) assert.equal((await stat(join(hub.dir, "tls", f))).mode & 0o777, 0o600, f);
    assert.equal((await stat(join(hub.dir, "tls"))).mode & 0o777, 0o700);
    const keys: string[] = [];
    for (const f of await filesUnder(hub.dir)) if ((await readFile(f)).includes("PRIVATE KEY")) keys.push(f.slice(hub.dir.length + 1));
    assert.deepEqual(keys.sort(), ["tls/ca-key.pem", "tls/server-key.pem"], "only the hub's own keys");
  });
});

describe("TLS on cluster routes", () => {
  const dirs: string[] = [];
  const servers: NatsServer[] = [];
  let tls: OwnTls;
  let routePorts: number[];

  before(async () => {
    for (let i = 0; i < 3; i++) dirs.push(await mkdtemp(join(tmpdir(), `ferry-tls-route-${i}-`)));
    tls = await ensureOwnTls(join(dirs[0]!, "tls"), "site CA", ["localhost", "127.0.0.1"]);
    routePorts = [await freePort(), await freePort()];
    const routes = routePorts.map((p) => `nats-route://127.0.0.1:${p}`);
    for (let i = 0; i < 2; i++) {
      servers.push(await startNatsServer({ dataDir: dirs[i]!, port: 0, serverName: `tls-${i}`, tls, cluster: { name: "tls-test", port: routePorts[i]!, routes } }));
    }
  });
  after(async () => {
    for (const s of servers) await s.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it("routes form over TLS: a message crosses from one server to the other", async () => {
    const ca = await readFile(tls.caFile, "utf8");
    const [a, b] = await Promise.all(servers.map((s) => connect({ servers: s.url, tls: { ca } })));
    try {
      const sub = b!.subscribe("tls.route.probe");
      await b!.flush();
      let got = false;
      void (async () => { for await (const _m of sub) { got = true; break; } })();
      await until("a message across the route", async () => {
        a!.publish("tls.route.probe", "x");
        await a!.flush();
        return got;
      });
    } finally {
      await a!.close();
      await b!.close();
    }
  });

  it("a plain route, and a route whose certificate another CA signed, are refused", async () => {
    // A route port with TLS says nothing in clear: the handshake comes first.
    const plain = await plainNats(routePorts[0]!);
    assert.equal(plain.info, "");
    assert.doesNotMatch(plain.reply, /PONG|INFO/);
    const ca = await readFile(tls.caFile, "utf8");
    const other = await makeCa("another CA");
    assert.equal((await tlsHandshake(routePorts[0]!, { ca: other.cert })).ok, false, "a peer trusting another CA");
    assert.equal((await tlsHandshake(routePorts[0]!, { ca, ...tls11 })).ok, false, "TLS 1.1");
  });

  it("the site's client port refuses plain NATS and speaks TLS", async () => {
    await assert.rejects(connect({ servers: `nats://127.0.0.1:${servers[0]!.port}`, timeout: 2000, maxReconnectAttempts: 0 }));
    assert.match(servers[0]!.url, /^tls:\/\//);
  });
});

describe("TLS on a site: the gateway with --tls-cert, NATS beyond loopback", () => {
  let dir: string;
  let site: Site | undefined;
  let gatewayCa: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ferry-tls-site-"));
    const ca = await makeCa("operator's CA");
    gatewayCa = ca.cert;
    const server = await makeServerCert(ca, ["localhost", "127.0.0.1"]);
    await writeFile(join(dir, "gw.pem"), server.cert);
    await writeFile(join(dir, "gw-key.pem"), server.key, { mode: 0o600 });
    const args = [
      "start", "gateway", "logger", "--port", "0", "--nats-port", "0", "--host", "127.0.0.1", "--nats-host", "0.0.0.0", "--data", join(dir, "data"),
      "--log-level", "silent", "--tls-cert", join(dir, "gw.pem"), "--tls-key", join(dir, "gw-key.pem"),
    ];
    site = await startSite(parseStart(args, {})!.options, quiet);
  });
  after(async () => {
    await site?.stop();
    delete process.env.FERRY_NATS_CA;
    await rm(dir, { recursive: true, force: true });
  });

  it("the gateway serves HTTPS with the given certificate, and not HTTP", async () => {
    assert.match(site!.url!, /^https:\/\//);
    const port = Number(new URL(site!.url!).port);
    assert.equal((await fetchTrusting(gatewayCa)(`https://127.0.0.1:${port}/health`)).status, 200);
    await assert.rejects(fetch(`http://127.0.0.1:${port}/health`));
    assert.equal((await tlsHandshake(port, { ca: gatewayCa, ...tls11 })).ok, false, "TLS 1.1");
  });

  it("NATS on a non-loopback host speaks only TLS, with the site's own CA (keys 0600)", async () => {
    assert.match(site!.natsUrl, /^tls:\/\//);
    const port = Number(new URL(site!.natsUrl).port);
    const pass = site!.passwords!.admin;
    await assert.rejects(connect({ servers: `nats://127.0.0.1:${port}`, user: "admin", pass, timeout: 2000, maxReconnectAttempts: 0 }));
    assert.equal((await tlsAfterInfo(port, { ca: gatewayCa })).ok, false, "a client trusting another CA");
    const caFile = join(dir, "data", "nats", "tls", "ca.pem");
    assert.equal(site!.ca?.file, caFile);
    const nc = await connect({ servers: site!.natsUrl, user: "admin", pass, tls: { caFile }, timeout: 5000 });
    await nc.close();
    for (const f of ["ca-key.pem", "server-key.pem", "ca.pem", "server.pem"]) assert.equal((await stat(join(dir, "data", "nats", "tls", f))).mode & 0o777, 0o600, f);
  });
});
