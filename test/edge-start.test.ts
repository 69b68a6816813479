import assert from "node:assert/strict";
import { mkdtemp, readFile, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { createServer, connect as netConnect, type Server } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { decodeEdgeBundle, encodeEdgeBundle, type InferenceRecord, type LogRecord } from "@ferry/contracts";
import { connect } from "@nats-io/transport-node";
import { credentialsPath, parseAs, parseStart, seedPath, startSite, type Site } from "@ferry/cli";
import type { Health } from "@ferry/gateway";
import { houseRef } from "./helpers/paths.js";
import { opsPost, publishHousePrice, startTestHub, type TestHub } from "./helpers/hub.js";
import { PANDAS, houseRecords, post, quiet, until } from "./helpers/site.js";
import { freePort } from "./helpers/free-port.js";

async function health(site: Site): Promise<Health> {
  return (await (await fetch(`${site.url}/health`)).json()) as Health;
}

async function pipelineVersion(site: Site): Promise<string | undefined> {
  const body = (await (await fetch(`${site.url}/pipelines`)).json()) as { pipelines: { id: string; status: string; version?: string }[] };
  return body.pipelines.find((p) => p.id === "edge-houseprice" && p.status === "Running")?.version;
}

/** `ferry start` as an edge: the site's services and the link, ports picked at random, in `data`. */
function startEdgeSite(bundle: string, data: string): Promise<Site> {
  const args = ["start", "inferer", "logger", "gateway", "link", "--port", "0", "--nats-port", "0", "--host", "127.0.0.1", "--data", data, "--log-level", "silent"];
  return startSite(parseStart(args, { EDGE_BUNDLE: bundle })!.options, quiet);
}

describe("ferry start with a bundle from the Ops hub: join, link, follow the publish, logs reach the hub", () => {
  let dir: string;
  let hub: TestHub;
  let site: Site | undefined;
  let bundle: string;
  let version: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ferry-edge-start-"));
    hub = await startTestHub({ tokenTtlMs: 60_000 });
    version = await publishHousePrice(hub);
    const added = await opsPost(hub, "/edges", { name: "shop-9", pipeline: "edge-houseprice" });
    assert.equal(added.status, 201, JSON.stringify(added.json));
    bundle = added.json.edgeBundle as string;
  });
  after(async () => {
    await site?.stop();
    await hub.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  it("joins, links its nats-server to the hub and serves the published version", { timeout: 60_000 }, async () => {
    site = await startEdgeSite(bundle, join(dir, "site"));
    assert.equal((await stat(credentialsPath(join(dir, "site")))).mode & 0o777, 0o600);
    await until("link up", async () => (await health(site!)).link.link === "up", 20_000);
    await until("the published version is served", async () => (await pipelineVersion(site!)) === version, 20_000);
    const r = await post(`${site.url}/infer`, houseRecords([houseRef.rows[0]!]), { "Content-Type": PANDAS });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal((r.json as InferenceRecord[])[0]!.pipeline_name, "edge-houseprice");
  });

  it("its log records carry the edge's name and reach the hub", { timeout: 60_000 }, async () => {
    await until("the record on the hub", async () => {
      const res = await opsPost(hub, "/logs", { pipeline: "edge-houseprice" });
      const records = res.json as unknown as LogRecord[];
      return Array.isArray(records) && records.some((x) => x.metadata.partition === "shop-9");
    }, 20_000);
  });

  it("a restart uses the stored credentials (the one-time token is spent) and links again", { timeout: 60_000 }, async () => {
    await site!.stop();
    site = await startEdgeSite(bundle, join(dir, "site"));
    await until("link up after restart", async () => (await health(site!)).link.link === "up", 20_000);
    assert.equal(await pipelineVersion(site), version);
  });

  it("restarted while the hub is down, it starts from its stored credentials, serves, and its offline records reach the hub later", { timeout: 120_000 }, async () => {
    await site!.stop();
    await hub.stop();
    site = await startEdgeSite(bundle, join(dir, "site"));
    assert.equal((await health(site)).link.link, "down");
    const row = houseRef.rows[1]!.map((v, i) => (i === 2 ? 4321 : v));
    const r = await post(`${site.url}/infer`, houseRecords([row]), { "Content-Type": PANDAS });
    assert.equal(r.status, 200, "serves its cached version with no hub");
    hub = await hub.restart();
    await until("link up once the hub is back", async () => (await health(site!)).link.link === "up", 30_000);
    await until("the offline record on the hub", async () => {
      const res = await opsPost(hub, "/logs", { partition: "shop-9", page_size: 10_000 });
      const records = res.json as unknown as LogRecord[];
      return Array.isArray(records) && records.some((x) => (x.in as { tensor: number[] }).tensor[2] === 4321);
    }, 30_000);
  });
});

describe("ferry start with a bundle while the Ops hub is unreachable", () => {
  let dir: string;
  let hub: TestHub;
  let site: Site | undefined;
  let proxy: Server | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ferry-edge-offline-"));
    hub = await startTestHub({ tokenTtlMs: 60_000 });
  });
  after(async () => {
    proxy?.close();
    await site?.stop();
    await hub.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  it("serves locally without a link, joins when the hub appears and links by restarting its nats-server", { timeout: 90_000 }, async () => {
    const version = await publishHousePrice(hub);
    const added = await opsPost(hub, "/edges", { name: "shop-10", pipeline: "edge-houseprice" });
    // The bundle names an Ops address where nothing listens yet; later a TCP relay to the real API opens there.
    const opsPort = await freePort();
    const bundle = { ...decodeEdgeBundle(added.json.edgeBundle as string), OPSCENTER_HOST: `127.0.0.1:${opsPort}` };
    const data = join(dir, "site");
    const args = ["start", "inferer", "logger", "gateway", "link", "--port", "0", "--nats-port", "0", "--host", "127.0.0.1", "--data", data, "--log-level", "silent"];
    site = await startSite({ ...parseAs("start", args, { EDGE_BUNDLE: encodeEdgeBundle(bundle) }), joinRetryMs: 200 }, quiet);
    assert.equal((await health(site)).link.link, "down");
    await assert.rejects(stat(credentialsPath(data)), "not joined yet");
    proxy = await relay(opsPort, Number(new URL(hub.ops.url).port));
    await until("joined and linked", async () => (await health(site!)).link.link === "up", 30_000);
    assert.equal((await stat(credentialsPath(data))).mode & 0o777, 0o600);
    await until("the published version is served", async () => (await pipelineVersion(site!)) === version, 30_000);
  });
});

describe("a revoked or lapsed edge is refused and its /health says so (a new bundle is needed)", () => {
  let dir: string;
  let hub: TestHub;
  const sites: Site[] = [];
  const addEdge = async (h: TestHub, name: string): Promise<string> => {
    const added = await opsPost(h, "/edges", { name, pipeline: "edge-houseprice" });
    assert.equal(added.status, 201, JSON.stringify(added.json));
    return added.json.edgeBundle as string;
  };
  const start = async (bundle: string, data: string): Promise<Site> => {
    const site = await startEdgeSite(bundle, data);
    sites.push(site);
    return site;
  };
  const stopSite = async (site: Site): Promise<void> => {
    sites.splice(sites.indexOf(site), 1);
    await site.stop();
  };
  const refusedBy = (site: Site, state: string) => async (): Promise<boolean> => {
    const l = (await health(site)).link;
    return l.link === state && /new EDGE_BUNDLE/.test(l.detail ?? "");
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ferry-edge-revoke-"));
    hub = await startTestHub({ tokenTtlMs: 60_000 });
    await publishHousePrice(hub);
  });
  after(async () => {
    for (const s of sites) await s.stop();
    await hub.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  it("revoked while linked: cut off within 2 s, refused from then on, /health says revoked; its seed is 0600 and not on the hub", { timeout: 60_000 }, async () => {
    const data = join(dir, "linked");
    const site = await start(await addEdge(hub, "shop-20"), data);
    await until("link up", async () => (await health(site)).link.link === "up", 20_000);
    assert.equal((await stat(seedPath(data))).mode & 0o777, 0o600);
    const seed = (await readFile(seedPath(data), "utf8")).trim();
    assert.equal((await hub.fetch(`${hub.ops.url}/edges/shop-20`, { method: "DELETE", headers: hub.auth })).status, 200);
    // The only edge linked: the hub's count of leaf links says whether it is cut off.
    await until("the hub has no leaf link left", async () => (await hubLeafs(hub)) === 0, 2000);
    await until("/health says revoked", refusedBy(site, "revoked"), 15_000);
    assert.equal(await hubLeafs(hub), 0, "its reconnects are refused");
    for (const f of (await readdir(hub.dir, { recursive: true, withFileTypes: true })).filter((x) => x.isFile())) {
      assert.equal((await readFile(join(f.parentPath, f.name))).includes(seed), false, `the edge's seed in the hub's ${f.name}`);
    }
  });

  it("revoked while offline: at its next start the hub refuses it and /health says revoked; a re-added name joins with a new key", { timeout: 90_000 }, async () => {
    const data = join(dir, "offline");
    const bundle = await addEdge(hub, "shop-21");
    const site = await start(bundle, data);
    await until("link up", async () => (await health(site)).link.link === "up", 20_000);
    const oldSeed = await readFile(seedPath(data), "utf8");
    await stopSite(site);
    assert.equal((await hub.fetch(`${hub.ops.url}/edges/shop-21`, { method: "DELETE", headers: hub.auth })).status, 200);
    const back = await start(bundle, data);
    await until("/health says revoked", refusedBy(back, "revoked"), 20_000);
    await stopSite(back);
    const renewed = await start(await addEdge(hub, "shop-21"), data);
    await until("link up with the new bundle", async () => (await health(renewed)).link.link === "up", 20_000);
    assert.notEqual(await readFile(seedPath(data), "utf8"), oldSeed, "a new key pair at the new join");
  });

  it("lapsed: an edge that returns after the contact period is refused and says it needs a new bundle", { timeout: 90_000 }, async () => {
    const short = await startTestHub({ tokenTtlMs: 60_000, contactTtlMs: 3000, sweepMs: 200 });
    try {
      await publishHousePrice(short);
      const data = join(dir, "lapsed");
      const bundle = await addEdge(short, "shop-22");
      const site = await start(bundle, data);
      await until("link up", async () => (await health(site)).link.link === "up", 20_000);
      await stopSite(site);
      await until("lapsed on the hub", async () => {
        const list = await (await short.fetch(`${short.ops.url}/edges`, { headers: short.auth })).json() as { name: string; state: string }[];
        return list.find((e) => e.name === "shop-22")?.state === "lapsed";
      }, 20_000);
      const back = await start(bundle, data);
      await until("/health says lapsed", refusedBy(back, "lapsed"), 20_000);
      await stopSite(back);
    } finally {
      await short.destroy();
    }
  });
});

/** How many leaf nodes are linked to the hub's server now (LEAFZ, asked as the hub's system user). */
async function hubLeafs(hub: TestHub): Promise<number> {
  const system = JSON.parse(await readFile(join(hub.dir, "system-login.json"), "utf8")) as { user: string; pass: string };
  const nc = await connect({ servers: hub.ops.natsUrl, user: system.user, pass: system.pass, tls: hub.ops.natsTls });
  try {
    const reply = (await nc.request("$SYS.REQ.SERVER.PING.LEAFZ", "{}", { timeout: 2000 })).json<{ data: { leafs?: unknown[] } }>();
    return reply.data.leafs?.length ?? 0;
  } finally {
    await nc.close();
  }
}

/** A TCP relay from `port` to `target` on loopback. */
async function relay(port: number, target: number): Promise<Server> {
  const server = createServer((client) => {
    const upstream = netConnect(target, "127.0.0.1");
    client.pipe(upstream).pipe(client);
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  return server;
}
