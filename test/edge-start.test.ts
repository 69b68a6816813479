import assert from "node:assert/strict";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { createServer, connect as netConnect, type Server } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { decodeEdgeBundle, encodeEdgeBundle, type InferenceRecord, type LogRecord } from "@ferry/contracts";
import { credentialsPath, parseAs, parseStart, startSite, type Site } from "@ferry/cli";
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
