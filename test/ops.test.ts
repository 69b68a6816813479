import assert from "node:assert/strict";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { connect, headers, nkeyAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { start as startInferer, type Inferer } from "@ferry/inferer";
import { start as startLogger, type LogService } from "@ferry/logger";
import { Buckets, Headers, HubDomain, edgeStatusMessage, inferSubject, decodeEdgeBundle, heartbeatSubject, parsePipelineUrl, type HeartbeatReply } from "@ferry/contracts";
import type { NatsServer } from "@ferry/natsd";
import { provision, siteAssets, storageSettings } from "@ferry/runtime";
import { fromSeed } from "@nats-io/nkeys";
import { askStanding } from "@ferry/cli";
import { joinEdge, newNkey, opsPost, publishHousePrice, startEdgeServer, startTestHub, type JoinedEdge, type TestHub } from "./helpers/hub.js";
import { manifests } from "./helpers/paths.js";
import { PANDAS, houseRecords, quiet, until } from "./helpers/site.js";

/** Every seed an edge of these tests made: none may ever be found on a hub. */
const seeds: string[] = [];

/** Adds an edge and joins it with a new nkey; resolves to its credentials and seed. */
async function addAndJoin(hub: TestHub, name: string): Promise<{ creds: JoinedEdge; token: string }> {
  const added = await opsPost(hub, "/edges", { name, pipeline: "edge-houseprice" });
  assert.equal(added.status, 201, JSON.stringify(added.json));
  const bundle = decodeEdgeBundle(added.json.edgeBundle as string);
  const joined = await joinEdge(hub, name, bundle.JOIN_TOKEN);
  assert.equal(joined.status, 200, JSON.stringify(joined.json));
  seeds.push(joined.seed);
  return { creds: joined.creds!, token: bundle.JOIN_TOKEN };
}

/** Whether an edge (through its own server) reaches the hub: a heartbeat crosses the leaf link and is answered. */
async function reachesHub(edge: NatsConnection, name: string): Promise<HeartbeatReply | undefined> {
  try {
    return (await edge.request(heartbeatSubject(name), JSON.stringify({ edge: name, pipelines: [] }), { timeout: 1000 })).json<HeartbeatReply>();
  } catch {
    return undefined;
  }
}

describe("Ops hub: edges, bundles, one-time join tokens, revocation", () => {
  let hub: TestHub;
  let dir: string;
  const edges: { server: NatsServer; nc: NatsConnection }[] = [];
  const startEdge = async (creds: JoinedEdge, ca = hub.ops.ca): Promise<NatsConnection> => {
    const server = await startEdgeServer(creds, join(dir, creds.edge_name), ca);
    const nc = await connect({ servers: server.url });
    edges.push({ server, nc });
    return nc;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ferry-edges-"));
    hub = await startTestHub({ tokenTtlMs: 60_000 });
  });
  after(async () => {
    for (const e of edges) {
      await e.nc.close();
      await e.server.stop();
    }
    await hub.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  it("an edge for an unpublished pipeline is refused; after publishing, its bundle names the version", async () => {
    const early = await opsPost(hub, "/edges", { name: "shop-1", pipeline: "edge-houseprice" });
    assert.equal(early.status, 404);
    assert.equal(early.json.code, "unknown_pipeline");
    const version = await publishHousePrice(hub);
    const added = await opsPost(hub, "/edges", { name: "shop-1", pipeline: "edge-houseprice" });
    assert.equal(added.status, 201);
    const bundle = decodeEdgeBundle(added.json.edgeBundle as string);
    assert.equal(bundle.EDGE_NAME, "shop-1");
    assert.equal(bundle.OPSCENTER_HOST, new URL(hub.ops.url).host);
    assert.deepEqual(parsePipelineUrl(bundle.PIPELINE_URL), { pipeline: "edge-houseprice", version });
    assert.match(Buffer.from(added.json.edgeBundle as string, "base64").toString(), /^export BUNDLE_VERSION=1\nexport EDGE_NAME=shop-1\nexport JOIN_TOKEN=/);
    const again = await opsPost(hub, "/edges", { name: "shop-1", pipeline: "edge-houseprice" });
    assert.equal(again.status, 409);
    assert.equal(again.json.code, "conflict");
  });

  it("a join token works once; the credentials open a leaf link that carries JetStream across domains", async () => {
    const { creds, token } = await addAndJoin(hub, "shop-2");
    assert.equal(creds.hub_domain, HubDomain);
    assert.match(creds.nkey, /^U[A-Z2-7]{55}$/);
    assert.equal(Object.hasOwn(creds, "password"), false, "the join answers no secret");
    const second = await joinEdge(hub, "shop-2", token);
    assert.equal(second.status, 401);
    assert.match(String(second.json.error), /used already/);
    const wrong = await joinEdge(hub, "shop-1", token);
    assert.equal(wrong.status, 401, "another edge's token");
    const edge = await startEdge(creds);
    await until("the leaf link", async () => (await reachesHub(edge, "shop-2"))?.ok === true);
    const listed = await (await hub.fetch(`${hub.ops.url}/edges`, { headers: hub.auth })).json() as { name: string; state: string; last_seen: number | null }[];
    const shop2 = listed.find((e) => e.name === "shop-2")!;
    assert.equal(shop2.state, "joined");
    assert.ok(shop2.last_seen! > 0, "the heartbeat counted as contact");
  });

  it("/join wants the public part of a fresh user nkey: none or a seed is 400, another edge's key 409, and the token stays good", async () => {
    const other = (await addAndJoin(hub, "shop-11")).creds;
    const added = await opsPost(hub, "/edges", { name: "shop-12", pipeline: "edge-houseprice" });
    const token = decodeEdgeBundle(added.json.edgeBundle as string).JOIN_TOKEN;
    const bare = await opsPost(hub, "/join", { edge_name: "shop-12", join_token: token });
    assert.equal(bare.status, 400);
    assert.match(String(bare.json.error), /nkey/);
    const key = newNkey();
    assert.equal((await joinEdge(hub, "shop-12", token, { nkey: key.seed, seed: key.seed })).status, 400, "a seed is not a public key");
    assert.equal((await joinEdge(hub, "shop-12", token, { nkey: key.nkey.replace(/^U/, "A"), seed: key.seed })).status, 400, "an account key is not a user key");
    const taken = await joinEdge(hub, "shop-12", token, { nkey: other.nkey, seed: "" });
    assert.equal(taken.status, 409, "one key, one edge");
    const ok = await joinEdge(hub, "shop-12", token);
    assert.equal(ok.status, 200, "the refusals above did not spend the token");
    seeds.push(ok.seed);
  });

  it("an edge asks its standing with a question signed by its nkey: joined, then revoked once removed; strangers learn nothing", async () => {
    const { creds } = await addAndJoin(hub, "shop-6");
    const ask = (seed: string, name = "shop-6"): Promise<string | undefined> => askStanding({ edge: name, opsUrl: hub.ops.url, seed, ca: hub.ops.ca });
    assert.equal(await ask(creds.seed), "joined");
    assert.equal(await ask(newNkey().seed), "revoked", "a key that is not the edge's hears what a revoked one hears");
    assert.equal(await ask(creds.seed, "shop-1"), "revoked", "another edge's name");
    const raw = async (body: unknown): Promise<Response> => hub.fetch(`${hub.ops.url}/edges/shop-6/status`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const nonce = "n".repeat(16);
    const signedFor = (name: string): string => Buffer.from(fromSeed(new TextEncoder().encode(creds.seed)).sign(new TextEncoder().encode(edgeStatusMessage(name, nonce)))).toString("base64url");
    assert.equal((await raw({ nkey: creds.nkey, nonce, signature: signedFor("shop-6") })).status, 200);
    assert.equal((await raw({ nkey: creds.nkey, nonce, signature: signedFor("shop-1") })).status, 401, "a signature for another question");
    assert.equal((await raw({ nkey: creds.nkey, nonce, signature: Buffer.alloc(64).toString("base64url") })).status, 401);
    assert.equal((await raw({ nkey: creds.nkey, nonce: "short", signature: signedFor("shop-6") })).status, 400);
    assert.equal((await hub.fetch(`${hub.ops.url}/edges/shop-6`, { method: "DELETE", headers: hub.auth })).status, 200);
    assert.equal(await ask(creds.seed), "revoked");
    await opsPost(hub, "/edges", { name: "shop-6", pipeline: "edge-houseprice" });
    assert.equal(await ask(creds.seed), "revoked", "re-added, the old identity stays refused");
  });

  it("an edge's user on the hub may send its own heartbeats and read what is published, and nothing else", async () => {
    await publishHousePrice(hub);
    const { creds } = await addAndJoin(hub, "shop-4");
    // The same nkey its leaf link signs in with, as a plain client of the hub.
    const nc = await connect({ servers: hub.ops.natsUrl, authenticator: nkeyAuthenticator(new TextEncoder().encode(creds.seed)), tls: hub.ops.natsTls });
    try {
      // The server reports each refusal on the connection (a request in the hub's domain is checked as the
      // `$JS.API` subject it maps to, so nats.js cannot pin that one on the request: it times out).
      const violations: string[] = [];
      void (async () => {
        for await (const st of nc.status()) if (st.type === "error") violations.push(String((st as { error?: Error }).error?.message));
      })();
      const beat = (await nc.request(heartbeatSubject("shop-4"), JSON.stringify({ edge: "shop-4", pipelines: [] }), { timeout: 5000 })).json<HeartbeatReply>();
      assert.equal(beat.ok, true);
      // What the edge's link reads through its leaf link (this user): the published manifest, in the hub's domain.
      const edge = await startEdge(creds);
      await until("the leaf link", async () => (await reachesHub(edge, "shop-4"))?.ok === true);
      const deployments = await new Kvm(jetstream(edge, { domain: HubDomain })).open("ferry-deployments");
      assert.match((await deployments.get("edge-houseprice"))?.string() ?? "", /"pipeline":\s*"edge-houseprice"/);
      const denied = async (what: string, op: () => Promise<unknown>): Promise<void> => {
        const subject = what.replace(`$JS.${HubDomain}.API.`, "$JS.API.");
        await assert.rejects(op, what);
        await until(`the refusal of ${what}`, async () => violations.some((v) => v.includes("Permissions Violation") && v.includes(`"${subject}"`)));
      };
      await denied(heartbeatSubject("shop-1"), () => nc.request(heartbeatSubject("shop-1"), JSON.stringify({ edge: "shop-1", pipelines: [] }), { timeout: 1000 }));
      await denied("$KV.ferry-deployments.edge-houseprice", () => jetstream(nc, { domain: HubDomain, timeout: 1000 }).publish("$KV.ferry-deployments.edge-houseprice", "{}"));
      const hubApi = `$JS.${HubDomain}.API`;
      for (const subject of [`${hubApi}.STREAM.DELETE.FERRY_LOGS_ALL`, `${hubApi}.STREAM.PURGE.FERRY_LOGS_ALL`, `${hubApi}.STREAM.INFO.FERRY_LOGS_ALL`,
        `${hubApi}.CONSUMER.CREATE.FERRY_LOGS_ALL`, `${hubApi}.STREAM.UPDATE.KV_ferry-deployments`, `${hubApi}.STREAM.NAMES`, "$JS.API.STREAM.INFO.FERRY_LOGS_ALL",
        "ferry.deploy", "ferry.logs.query", "$KV.ferry-ops-edges.shop-1", `${hubApi}.DIRECT.GET.KV_ferry-ops-tokens`, `${hubApi}.STREAM.INFO.KV_ferry-ops-tokens`]) {
        await denied(subject, () => nc.request(subject, "{}", { timeout: 1000 }));
      }
      await denied("ferry.ops.heartbeat.>", async () => {
        for await (const _m of nc.subscribe("ferry.ops.heartbeat.>")) break;
      });
    } finally {
      await nc.close();
    }
  });

  it("a removed edge's leaf link is dropped at once and refused from then on, without restarting the hub; adding it again gives a new token", async (t) => {
    const { creds, token } = await addAndJoin(hub, "shop-3");
    const other = await startEdge((await addAndJoin(hub, "shop-7")).creds);
    const edge = await startEdge(creds);
    await until("the leaf links", async () => (await reachesHub(edge, "shop-3"))?.ok === true && (await reachesHub(other, "shop-7"))?.ok === true);
    // The hub's server stays up: Ops' own connection never drops and the API keeps answering 200.
    const statuses: string[] = [];
    void (async () => {
      for await (const s of hub.nc.status()) statuses.push(s.type);
    })();
    let polling = true;
    const seen: number[] = [];
    const poll = (async () => {
      while (polling) {
        seen.push((await hub.fetch(`${hub.ops.url}/edges`, { headers: hub.auth })).status);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const res = await hub.fetch(`${hub.ops.url}/edges/shop-3`, { method: "DELETE", headers: hub.auth });
    assert.equal(res.status, 200);
    const cut = Date.now();
    await until("the link to drop", async () => (await reachesHub(edge, "shop-3")) === undefined, 2000);
    t.diagnostic(`link gone ${Date.now() - cut} ms after DELETE answered`);
    polling = false;
    await poll;
    assert.deepEqual([...new Set(seen)], [200], "GET /edges during the revocation");
    assert.deepEqual(statuses.filter((s) => s === "disconnect" || s === "reconnect"), [], "Ops' connection to the hub's server never dropped");
    // The other edge's link was closed too (a leaf link does not say which user it is) and comes back.
    await until("the other edge relinks", async () => (await reachesHub(other, "shop-7"))?.ok === true, 10_000);
    // Refused from then on: the edge's server keeps retrying with the revoked credentials.
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(await reachesHub(edge, "shop-3"), undefined);
    }
    const readded = await opsPost(hub, "/edges", { name: "shop-3", pipeline: "edge-houseprice" });
    assert.equal(readded.status, 201);
    assert.notEqual(decodeEdgeBundle(readded.json.edgeBundle as string).JOIN_TOKEN, token);
  });

  it("the hub's data folder (every file, the registry bucket among them) holds no edge seed and no edge password", async () => {
    assert.ok(seeds.length >= 5, "edges joined above");
    const files = (await readdir(hub.dir, { recursive: true, withFileTypes: true })).filter((f) => f.isFile()).map((f) => join(f.parentPath, f.name));
    let publicKeysSeen = 0;
    const { creds } = await addAndJoin(hub, "shop-13");
    for (const file of files) {
      const bytes = await readFile(file);
      for (const seed of seeds) assert.equal(bytes.includes(seed), false, `an edge seed in ${file}`);
      if (bytes.includes(creds.nkey)) publicKeysSeen++;
    }
    assert.ok(publicKeysSeen > 0, "the search reads the hub's store (the public key is in it)");
    const registry = await new Kvm(hub.nc).open(Buckets.edges);
    for await (const key of await registry.keys()) {
      const record = (await registry.get(key))?.string() ?? "";
      assert.doesNotMatch(record, /password|seed|"SU[A-Z2-7]{50,}"/i, `registry record ${key}`);
    }
    const users = JSON.parse(await readFile(join(hub.dir, "edge-users.json"), "utf8")) as Record<string, unknown>[];
    assert.ok(users.length > 0 && users.every((u) => Object.keys(u).sort().join() === "nkey,permissions"), "the hub's edge users are public keys only");
  });

  it("an expired token gets 401, and credentials lapse without contact", async () => {
    const short = await startTestHub({ tokenTtlMs: 300, contactTtlMs: 1500, sweepMs: 100 });
    try {
      await publishHousePrice(short);
      const added = await opsPost(short, "/edges", { name: "late", pipeline: "edge-houseprice" });
      await new Promise((r) => setTimeout(r, 600));
      const late = await joinEdge(short, "late", decodeEdgeBundle(added.json.edgeBundle as string).JOIN_TOKEN);
      assert.equal(late.status, 401);
      assert.match(String(late.json.error), /expired/);

      const fresh = await opsPost(short, "/edges", { name: "quiet", pipeline: "edge-houseprice" });
      const joined = await joinEdge(short, "quiet", decodeEdgeBundle(fresh.json.edgeBundle as string).JOIN_TOKEN);
      assert.equal(joined.status, 200);
      await until("the credentials to lapse", async () => {
        const list = await (await short.fetch(`${short.ops.url}/edges`, { headers: short.auth })).json() as { name: string; state: string }[];
        return Array.isArray(list) && list.find((e) => e.name === "quiet")?.state === "lapsed";
      });
      const edge = await startEdge(joined.creds!, short.ops.ca);
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(await reachesHub(edge, "quiet"), undefined, "lapsed credentials open no link");
      assert.equal(await askStanding({ edge: "quiet", opsUrl: short.ops.url, seed: joined.seed, ca: short.ops.ca }), "lapsed", "the edge can learn why");
      const readd = await opsPost(short, "/edges", { name: "quiet", pipeline: "edge-houseprice" });
      assert.equal(readd.status, 201, "a lapsed edge can get a new bundle");
      assert.equal(await askStanding({ edge: "quiet", opsUrl: short.ops.url, seed: joined.seed, ca: short.ops.ca }), "revoked", "re-added: the lapsed identity is not the edge's any more");
    } finally {
      await short.destroy();
    }
  });
});

describe("store-and-forward log sync: edges keep logging offline; the hub gets every record once, in order", () => {
  interface Edge { name: string; server: NatsServer; nc: NatsConnection; logger: LogService; inferer: Inferer; creds: JoinedEdge }
  let hub: TestHub;
  let dir: string;
  const edges = new Map<string, Edge>();

  const startEdge = async (creds: JoinedEdge, port = 0): Promise<Edge> => {
    const server = await startEdgeServer(creds, join(dir, creds.edge_name), hub.ops.ca, port);
    const nc = await connect({ servers: server.url, maxReconnectAttempts: -1 });
    // As `ferry start` does on an edge: services open the site's streams and buckets, never create them.
    await provision(nc, siteAssets(storageSettings()));
    const logger = await startLogger({ natsUrl: server.url, logger: quiet });
    const inferer = await startInferer({ natsUrl: server.url, manifests: [manifests.houseprice], watch: false, partition: creds.edge_name, logger: quiet });
    const edge = { name: creds.edge_name, server, nc, logger, inferer, creds };
    edges.set(edge.name, edge);
    return edge;
  };
  const stopEdge = async (e: Edge): Promise<void> => {
    await e.nc.close();
    await e.inferer.stop();
    await e.logger.stop();
    await e.server.stop();
  };
  /** Row n of an edge: its third value marks the request, so records can be matched and ordered. */
  const infer = async (e: Edge, from: number, count: number): Promise<void> => {
    const h = headers();
    h.set(Headers.contentType, PANDAS);
    for (let n = from; n < from + count; n++) {
      const m = await e.nc.request(inferSubject("edge-houseprice"), houseRecords([[3, 2, 10_000 + n, 5000, 1, 0, 0, 3, 7, 1500, 0, 47.5, -122.2, 1500, 5000, 10, 0, 0]]), { headers: h, timeout: 10_000 });
      assert.equal(m.headers?.get(Headers.status), "200");
    }
  };
  const hubMarkers = async (partition: string): Promise<number[]> => {
    const res = await hub.fetch(`${hub.ops.url}/logs`, { method: "POST", headers: { "Content-Type": "application/json", ...hub.auth }, body: JSON.stringify({ partition, page_size: 10_000 }) });
    const records = await res.json() as { in: { tensor: number[] }; metadata: { partition: string } }[];
    assert.ok(Array.isArray(records), JSON.stringify(records));
    assert.ok(records.every((r) => r.metadata.partition === partition));
    return records.map((r) => r.in.tensor[2]! - 10_000);
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ferry-sync-"));
    hub = await startTestHub();
    await publishHousePrice(hub);
    for (const name of ["shop-a", "shop-b"]) {
      const { creds } = await addAndJoin(hub, name);
      const edge = await startEdge(creds);
      await until(`${name}'s link`, async () => (await reachesHub(edge.nc, name))?.ok === true);
    }
  });
  after(async () => {
    for (const e of edges.values()) await stopEdge(e);
    await hub.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  it("records written while the hub was down (one edge restarting meanwhile) all arrive, once, in order", async () => {
    for (const e of edges.values()) await infer(e, 0, 10);
    await until("the first records at the hub", async () => (await hubMarkers("shop-a")).length === 10 && (await hubMarkers("shop-b")).length === 10);
    await hub.stop();
    for (const e of edges.values()) await infer(e, 10, 1000);
    // shop-a restarts while offline: its unsent records are in its own store.
    const a = edges.get("shop-a")!;
    await until("shop-a's records stored locally", async () => (await a.logger.stats()).messages > 0 && a.inferer.logStats().buffered === 0);
    await stopEdge(a);
    await startEdge(a.creds, a.server.port);
    hub = await hub.restart();
    for (const name of ["shop-a", "shop-b"]) {
      await until(`all of ${name}'s records at the hub`, async () => (await hubMarkers(name)).length >= 1010, 60_000);
      const markers = await hubMarkers(name);
      assert.equal(markers.length, 1010, `${name}: exactly 1,010 records, no duplicates`);
      assert.deepEqual(markers, Array.from({ length: 1010 }, (_, n) => n), `${name}: in order`);
    }
  });
});
