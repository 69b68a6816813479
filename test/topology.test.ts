import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Buckets, Headers, SiteKeys, Subjects } from "@ferry/contracts";
import { Kvm } from "@nats-io/kv";
import { hubAssets, provision, siteAssets, storageSettings, streamNameOf } from "@ferry/runtime";
import { openStores, publishManifestFile, start as startDeployer } from "@ferry/deployer";
import { start as startInferer } from "@ferry/inferer";
import { start as startLogger } from "@ferry/logger";
import type { Service } from "@ferry/runtime";
import { quiet, until } from "./helpers/site.js";
import { manifests } from "./helpers/paths.js";
import { startTestCluster, type TestCluster } from "./helpers/cluster.js";

async function streamNames(jsm: JetStreamManager): Promise<string[]> {
  const names: string[] = [];
  for await (const n of jsm.streams.names()) names.push(n);
  return names.sort();
}

/** Asks the deployer to make `pipeline` the site's current one; resolves to the reply's Ferry-Status. */
async function setCurrent(nc: NatsConnection, pipeline: string): Promise<number> {
  const reply = await nc.request(Subjects.setCurrent, JSON.stringify({ pipeline }), { timeout: 10_000 });
  return Number(reply.headers?.get(Headers.status) || 200);
}

describe("topology: one definition of every stream and bucket, provisioned once", () => {
  let cluster: TestCluster;
  let admin: NatsConnection;
  let jsm: JetStreamManager;
  let dir: string;
  const services: Service[] = [];
  before(async () => {
    cluster = await startTestCluster(3);
    admin = await connect({ servers: cluster.urls });
    jsm = await jetstreamManager(admin);
    dir = await mkdtemp(join(tmpdir(), "ferry-topology-"));
  });
  after(async () => {
    for (const s of services.reverse()) await s.stop().catch(() => undefined);
    await admin.close();
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("services started before provisioning create nothing, answer unavailable, and serve once it runs", async () => {
    const natsUrl = cluster.urls.join(",");
    const inferer = await startInferer({ natsUrl, manifests: [], watch: true, cacheDir: join(dir, "cache"), logger: quiet });
    services.push(inferer, await startDeployer({ natsUrl, logger: quiet }), await startLogger({ natsUrl, logger: quiet }));
    assert.deepEqual(await streamNames(jsm), [], "no service created a stream or bucket");
    assert.equal(await setCurrent(admin, "edge-houseprice"), 503, "the deployer answers unavailable until the site is provisioned");
    await until("the inferer to report its missing stores", async () => inferer.status().detail !== undefined);

    const done = await provision(admin, siteAssets(storageSettings({ replicas: 3 })));
    assert.ok(done.every((r) => r.action === "created"), JSON.stringify(done));
    await until("the deployer to answer", async () => (await setCurrent(admin, "edge-houseprice")) === 404, 20_000);
    await publishManifestFile(await openStores(admin), manifests.houseprice);
    assert.equal(await setCurrent(admin, "edge-houseprice"), 200, "a deployed pipeline can be made current");
    assert.equal((await (await new Kvm(admin).open(Buckets.site)).get(SiteKeys.current))?.string(), "edge-houseprice");
    await until("the inferer to follow its stores", async () => inferer.status().detail === undefined, 20_000);
  });

  it("every site asset (the deployments bucket included) has 3 replicas", async () => {
    const expected = siteAssets(storageSettings({ replicas: 3 })).map(streamNameOf).sort();
    assert.deepEqual(await streamNames(jsm), expected);
    for (const name of expected) {
      const info = await jsm.streams.info(name);
      assert.equal(info.config.num_replicas, 3, `${name} replicas`);
      assert.equal(info.cluster?.replicas?.length, 2, `${name}: a leader and two followers`);
    }
  });

  it("provisioning again changes nothing; new bounds update a stream in place", async () => {
    const again = await provision(admin, siteAssets(storageSettings({ replicas: 3 })));
    assert.ok(again.every((r) => r.action === "unchanged"), JSON.stringify(again));
    const bigger = await provision(admin, siteAssets(storageSettings({ replicas: 3, logMaxBytes: 2 * 1024 ** 3 })));
    assert.deepEqual(bigger.filter((r) => r.action !== "unchanged").map((r) => `${r.name} ${r.action}`), ["FERRY_LOGS updated"]);
    assert.equal((await jsm.streams.info("FERRY_LOGS")).config.max_bytes, 2 * 1024 ** 3);
  });

  it("the hub's assets have the asked replicas too, and provisioning keeps an edge's log source", async () => {
    await provision(admin, hubAssets(storageSettings({ replicas: 3 })));
    for (const a of hubAssets(storageSettings({ replicas: 3 }))) {
      assert.equal((await jsm.streams.info(streamNameOf(a))).config.num_replicas, 3, streamNameOf(a));
    }
    const all = await jsm.streams.info("FERRY_LOGS_ALL");
    await jsm.streams.update("FERRY_LOGS_ALL", { ...all.config, sources: [{ name: "FERRY_LOGS", external: { api: "$JS.edge-1.API", deliver: "" } }] });
    await provision(admin, hubAssets(storageSettings({ replicas: 3 })));
    assert.deepEqual((await jsm.streams.info("FERRY_LOGS_ALL")).config.sources?.map((s) => s.external?.api), ["$JS.edge-1.API"]);
  });
});
