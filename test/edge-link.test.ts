import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import { Buckets, Headers, SiteKeys, Subjects, inferSubject, type InferenceRecord, type LinkStatus } from "@ferry/contracts";
import { openStores, publishManifestFile, type DeploymentStores } from "@ferry/deployer";
import { start as startInferer, type Inferer } from "@ferry/inferer";
import { start as startLink, type LinkService } from "@ferry/link";
import type { NatsServer } from "@ferry/natsd";
import { houseRef, manifests, models } from "./helpers/paths.js";
import { PANDAS, houseRecords, quiet, until } from "./helpers/site.js";
import { EDGE, startLinkedEdge, startStandInHub, type StandInHub } from "./helpers/standin-hub.js";

/** The pipeline_version of `pipeline` in the deployments bucket `nc` reaches, if any. */
async function deployedVersion(nc: NatsConnection, pipeline: string): Promise<string | undefined> {
  try {
    const e = await (await new Kvm(nc).open(Buckets.deployments)).get(pipeline);
    return e && e.operation === "PUT" ? e.json<{ pipeline_version: string }>().pipeline_version : undefined;
  } catch {
    return undefined;
  }
}

async function hasModel(nc: NatsConnection, sha: string): Promise<boolean> {
  try {
    const info = await (await new Objm(nc).open(Buckets.models)).info(sha);
    return info !== null && !info.deleted;
  } catch {
    return false;
  }
}

async function linkStatusOf(nc: NatsConnection): Promise<LinkStatus | undefined> {
  try {
    return (await nc.request(Subjects.linkStatus, undefined, { timeout: 500 })).json<LinkStatus>();
  } catch {
    return undefined;
  }
}

/** Sends one house-price row to the edge's pipeline over NATS; resolves to the record. */
async function inferOnEdge(nc: NatsConnection): Promise<InferenceRecord> {
  const h = headers();
  h.set(Headers.contentType, PANDAS);
  const msg = await nc.request(inferSubject("edge-houseprice"), houseRecords([houseRef.rows[0]!]), { timeout: 5000, headers: h });
  assert.equal(msg.headers?.get(Headers.status) || "200", "200", msg.string());
  return msg.json<InferenceRecord[]>()[0]!;
}

/** A manifest for edge-houseprice whose model file differs from the original (a retrained model). */
async function retrainedManifest(dir: string): Promise<{ path: string; sha: string }> {
  // An unknown protobuf field appended: same weights, another file, another sha256.
  const bytes = Buffer.concat([await readFile(join(models, "house-price-estimator.onnx")), Buffer.from([0xa0, 0x06, 0x01])]);
  await writeFile(join(dir, "retrained.onnx"), bytes);
  const path = join(dir, "retrained.json");
  await writeFile(path, JSON.stringify({ pipeline: "edge-houseprice", steps: [{ model: "house-price-estimator", file: "retrained.onnx" }] }));
  return { path, sha: createHash("sha256").update(bytes).digest("hex") };
}

describe("the edge link: heartbeats, the leaf deny list, following publishes across outages", () => {
  let dir: string;
  let hub: StandInHub;
  let edge: NatsServer;
  let nc: NatsConnection;
  let link: LinkService | undefined;
  let inferer: Inferer | undefined;
  let hubStores: DeploymentStores;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ferry-edge-link-"));
    hub = await startStandInHub();
    edge = await startLinkedEdge(join(dir, "edge"), hub.server.leafPort!, hub.caFile);
    nc = await connect({ servers: edge.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    hubStores = await openStores(hub.nc);
  });
  after(async () => {
    await inferer?.stop().catch(() => undefined);
    await link?.stop().catch(() => undefined);
    await nc?.close().catch(() => undefined);
    await edge?.stop();
    await hub?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it("keeps the site's own traffic on the site: denied subjects cross the leaf link in neither direction", async () => {
    const denied = [Subjects.infer, inferSubject("edge-houseprice"), Subjects.status, "ferry.log.edge-houseprice.edge-a", "$KV.ferry-test.key", "$O.ferry-test.C.chunk", Subjects.linkStatus];
    for (const [from, to] of [[nc, hub.nc], [hub.nc, nc]] as const) {
      const got: string[] = [];
      const subs = [...denied, "test.sentinel"].map((s) => to.subscribe(s, { callback: (_e, m) => { got.push(m.subject); } }));
      await to.flush();
      // Messages from one connection keep their order across the link: once the sentinel is through, anything sent before it would be too.
      await until("the sentinel crosses the leaf link", async () => {
        for (const s of denied) from.publish(s, "x");
        from.publish("test.sentinel", "x");
        await from.flush();
        await new Promise((r) => setTimeout(r, 50));
        return got.includes("test.sentinel");
      });
      for (const s of subs) s.unsubscribe();
      assert.deepEqual(got.filter((s) => s !== "test.sentinel"), [], "denied subjects crossed the link");
    }
    // A request too: the hub's responder on ferry.status is not the edge's.
    const responder = hub.nc.subscribe(Subjects.status, { callback: (_e, m) => { m.respond("the hub's status"); } });
    await hub.nc.flush();
    await assert.rejects(nc.request(Subjects.status, undefined, { timeout: 500 }));
    responder.unsubscribe();
  });

  it("heartbeats bring the link up and report the site's pipelines; ferry.link.status answers", async () => {
    link = await startLink({ nc: await connect({ servers: edge.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 }), edge: EDGE, pipeline: "edge-houseprice", heartbeatMs: 200, heartbeatTimeoutMs: 1000, maxBackoffMs: 1000, logger: quiet });
    await until("link up", async () => link!.linkStatus().link === "up");
    const status = await linkStatusOf(nc);
    assert.equal(status?.joined, true);
    assert.equal(status?.edge, EDGE);
    assert.equal(status?.link, "up");
    assert.ok(status?.last_contact);
    assert.equal(hub.heartbeats.at(-1)?.edge, EDGE);
  });

  it("deploys the pipeline published on the hub: models, then the manifest; an inferer serves it", async () => {
    const v1 = (await publishManifestFile(hubStores, manifests.houseprice)).manifest;
    await until("v1 on the edge", async () => (await deployedVersion(nc, "edge-houseprice")) === v1.pipeline_version);
    assert.ok(await hasModel(nc, v1.steps[0]!.sha256!), "the model was copied to the edge's object store");
    const current = await (await new Kvm(nc).open(Buckets.site)).get(SiteKeys.current);
    assert.equal(current?.string(), "edge-houseprice", "an edge with no current pipeline gets the followed one");
    inferer = await startInferer({ natsUrl: edge.url, manifests: [], watch: true, cacheDir: join(dir, "cache"), partition: EDGE, logger: quiet });
    await until("the inferer serves v1", async () => inferer!.status().pipelines.some((p) => p.id === "edge-houseprice" && p.version === v1.pipeline_version && p.status === "Running"));
    const record = await inferOnEdge(nc);
    assert.equal(record.pipeline_name, "edge-houseprice");
    await until("a heartbeat names the served version", async () => hub.heartbeats.at(-1)?.pipelines.some((p) => p.version === v1.pipeline_version) ?? false);
  });

  it("the link goes down when the hub stops and up again when it returns; the next publish reaches the edge", async () => {
    await hub.stop();
    await until("link down", async () => link!.linkStatus().link === "down");
    const down = await linkStatusOf(nc);
    assert.equal(down?.link, "down");
    assert.ok(down?.detail, "a down link says why");
    assert.ok(down?.last_contact, "the last contact is kept");
    assert.equal((await inferOnEdge(nc)).pipeline_name, "edge-houseprice", "the site serves while the link is down");
    await hub.restart();
    hubStores = await openStores(hub.nc);
    await until("link up again", async () => link!.linkStatus().link === "up");
    const retrained = await retrainedManifest(dir);
    const v2 = (await publishManifestFile(hubStores, retrained.path)).manifest;
    await until("v2 on the edge", async () => (await deployedVersion(nc, "edge-houseprice")) === v2.pipeline_version);
    assert.ok(await hasModel(nc, retrained.sha));
    await until("the inferer serves v2", async () => inferer!.status().pipelines.some((p) => p.version === v2.pipeline_version && p.status === "Running"));
  });

  it("a version published while the edge's server is down arrives once it is back", async () => {
    const port = edge.port;
    await edge.stop();
    const v3 = (await publishManifestFile(hubStores, manifests.houseprice)).manifest;
    edge = await startLinkedEdge(join(dir, "edge"), hub.server.leafPort!, hub.caFile, port);
    await until("v3 on the edge", async () => (await deployedVersion(nc, "edge-houseprice")) === v3.pipeline_version, 20_000);
    assert.equal(link!.linkStatus().link, "up");
    await until("the inferer serves v3", async () => inferer!.status().pipelines.some((p) => p.version === v3.pipeline_version && p.status === "Running"), 20_000);
  });

  it("a hub that no longer knows the edge puts the link down with its reason", async () => {
    hub.edges.delete(EDGE);
    // A heartbeat that times out on a busy machine also puts the link down (with another reason),
    // so wait for the refusal itself: the link must come to say it was removed.
    await until("link refused as removed", async () => {
      const { link: state, detail } = link!.linkStatus();
      return state === "down" && /removed/.test(detail ?? "");
    });
    hub.edges.add(EDGE);
    await until("link up", async () => link!.linkStatus().link === "up");
  });

  it("stop() ends heartbeats and the status responder", async () => {
    await link!.stop();
    link = undefined;
    const n = hub.heartbeats.length;
    assert.equal(await linkStatusOf(nc), undefined);
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(hub.heartbeats.length, n);
  });
});
