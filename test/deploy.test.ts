import assert from "node:assert/strict";
import { copyFile, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Objm } from "@nats-io/obj";
import { jetstreamManager } from "@nats-io/jetstream";
import { Buckets, type FerryError, type InferenceRecord } from "@ferry/contracts";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  deployManifest, publishManifestFile, setCurrentPipeline, start as startDeployer, undeploy, uploadModel, type DeploymentStores,
} from "@ferry/deployer";
import type { Gateway } from "@ferry/gateway";
import { start as startInferer, type Inferer } from "@ferry/inferer";
import { houseRef, manifests, models, root } from "./helpers/paths.js";
import { PANDAS, houseRecords, post, quiet, startDeploySite, until, type DeploySite } from "./helpers/site.js";

interface Pipelines { pipelines: { id: string; status: string; version?: string; detail?: string }[] }
interface Models { models: { name: string; sha: string; status: string; version: string; detail?: string }[] }

/** A folder with a manifest for pipeline `swap` whose model file is `file` (copied in). */
async function manifestDir(dir: string, name: string, steps: { model: string; file: string; extra?: Buffer }[]): Promise<string> {
  const entries = [];
  for (const [i, s] of steps.entries()) {
    const target = join(dir, `${name}-${i}.onnx`);
    if (s.extra) await writeFile(target, Buffer.concat([await readFile(s.file), s.extra]));
    else await copyFile(s.file, target);
    entries.push({ model: s.model, file: `${name}-${i}.onnx` });
  }
  const path = join(dir, `${name}.json`);
  await writeFile(path, JSON.stringify({ pipeline: "swap", steps: entries }));
  return path;
}

const house = join(models, "house-price-estimator.onnx");
// An unknown protobuf field appended: a different file (new sha, new version) with the same weights.
const retrained = Buffer.from([0xa0, 0x06, 0x01]);

describe("publishing pipeline versions to a serving site", () => {
  let site: DeploySite;
  let stores: DeploymentStores;
  let gateway: Gateway;
  let dir: string;
  let restarted: Inferer | undefined;
  const pipelines = async (): Promise<Pipelines["pipelines"]> => ((await (await fetch(`${gateway.url}/pipelines`)).json()) as Pipelines).pipelines;
  const swap = (): Promise<{ status: number; json: unknown }> => post(`${gateway.url}/pipelines/swap`, houseRecords([houseRef.rows[0]!]), { "Content-Type": PANDAS });

  before(async () => {
    site = await startDeploySite({ logRecords: false });
    ({ stores, gateway, dir } = site);
  });
  after(async () => {
    await restarted?.stop();
    await site.stop();
  });

  let v1: string;
  let v2: string;

  it("publish v1 → served; publishing again without changes keeps the model version", async () => {
    const r = await publishManifestFile(stores, await manifestDir(dir, "v1", [{ model: "house", file: house }]));
    assert.deepEqual(r.uploaded, ["house"]);
    v1 = r.manifest.steps[0]!.version!;
    await until("v1 to serve", async () => (await swap()).status === 200);
    const [rec] = (await swap()).json as InferenceRecord[];
    assert.equal(rec!.model_version, v1);
    const again = await publishManifestFile(stores, await manifestDir(dir, "v1b", [{ model: "house", file: house }]));
    assert.deepEqual(again.uploaded, [], "the model store has it already");
    assert.equal(again.manifest.steps[0]!.version, v1, "same file, same model version");
    assert.notEqual(again.manifest.pipeline_version, r.manifest.pipeline_version, "a fresh pipeline version per publish");
  });

  it("v2 published under continuous load: no failed request, v1 then only v2", async () => {
    const seen: string[] = [];
    let failures = 0;
    let stop = false;
    const load = Promise.all(Array.from({ length: 4 }, async () => {
      while (!stop) {
        const r = await swap();
        if (r.status !== 200) failures++;
        else seen.push((r.json as InferenceRecord[])[0]!.model_version);
      }
    }));
    await sleep(200);
    const r = await publishManifestFile(stores, await manifestDir(dir, "v2", [{ model: "house", file: house, extra: retrained }]));
    v2 = r.manifest.steps[0]!.version!;
    assert.notEqual(v2, v1, "a new file gets a new model version");
    await until("v2 to serve", async () => seen.at(-1) === v2);
    const swappedAt = seen.length;
    await sleep(300);
    stop = true;
    await load;
    assert.equal(failures, 0);
    assert.ok(seen.every((v) => v === v1 || v === v2));
    assert.ok(seen.slice(swappedAt).every((v) => v === v2), "after the swap only v2");
    assert.ok(seen.length - swappedAt > 0);
  });

  it("a bad v3 (corrupt file, wrong sha, mismatched steps) leaves v2 serving and reports Error with the reason", async () => {
    const bad = join(dir, "corrupt.onnx");
    await writeFile(bad, "not a model at all");
    const cases: [string, () => Promise<unknown>, RegExp][] = [
      ["corrupt file", () => publishManifestFile(stores, join(dir, "corrupt.json")), /failed to load/],
      ["wrong sha", async () => {
        // An object whose content is not what its name (the sha256) says.
        const fake = "ab".repeat(32);
        await stores.models.putBlob({ name: fake }, await readFile(house));
        return deployManifest(stores, { pipeline: "swap", steps: [{ model: "house", sha256: fake }] });
      }, /sha256/],
      ["mismatched steps", () => publishManifestFile(stores, join(dir, "mismatch.json")), /takes|matches no output/],
    ];
    await writeFile(join(dir, "corrupt.json"), JSON.stringify({ pipeline: "swap", steps: [{ model: "house", file: "corrupt.onnx" }] }));
    await manifestDir(dir, "mismatch", [{ model: "house", file: house }, { model: "classifier", file: join(models, "image-classifier.onnx") }]);
    for (const [what, publish, reason] of cases) {
      await publish();
      await until(`${what} to be reported`, async () => (await pipelines()).find((p) => p.id === "swap")?.status === "Error");
      const p = (await pipelines()).find((x) => x.id === "swap")!;
      assert.match(p.detail ?? "", reason, what);
      const r = await swap();
      assert.equal(r.status, 200, `${what}: v2 keeps serving`);
      assert.equal((r.json as InferenceRecord[])[0]!.model_version, v2);
      const m = ((await (await fetch(`${gateway.url}/models`)).json()) as Models).models;
      assert.ok(m.some((x) => x.status === "Error" && x.detail), `${what}: /models shows the failed version`);
      assert.ok(m.some((x) => x.version === v2 && x.status === "Running"));
    }
    await publishManifestFile(stores, await manifestDir(dir, "v4", [{ model: "house", file: house, extra: retrained }]));
    await until("a good manifest clears the error", async () => (await pipelines()).find((p) => p.id === "swap")?.status === "Running");
  });

  it("the current pipeline comes from the site bucket and switches in place", async () => {
    await setCurrentPipeline(stores, "swap");
    await until("/infer to serve swap", async () => {
      const r = await post(`${gateway.url}/infer`, houseRecords([houseRef.rows[0]!]), { "Content-Type": PANDAS });
      return r.status === 200 && (r.json as InferenceRecord[])[0]!.pipeline_name === "swap";
    });
  });

  it("`ferry current` refuses a pipeline that is not deployed, naming the deployed ones; /infer keeps serving", async () => {
    await assert.rejects(setCurrentPipeline(stores, "nope"), (err: FerryError) => err.code === "unknown_pipeline" && /deployed: swap/.test(err.message));
    const cli = spawnSync(process.execPath, [join(root, "cli", "dist", "main.js"), "current", "nope"], { env: { ...process.env, NATS_URL: site.nats.url }, encoding: "utf8" });
    assert.equal(cli.status, 1, cli.stderr);
    assert.match(cli.stderr, /pipeline "nope" is not deployed, so it cannot be current; deployed: swap/);
    const r = await post(`${gateway.url}/infer`, houseRecords([houseRef.rows[0]!]), { "Content-Type": PANDAS });
    assert.equal(r.status, 200, "the current pipeline is unchanged");
  });

  it("a restarted inferer serves from its cache when the model store is gone", async () => {
    await site.inferer.stop();
    await (await new Objm(site.nc).open(Buckets.models)).destroy();
    restarted = await startInferer({ natsUrl: site.nats.url, manifests: [], cacheDir: join(dir, "cache"), logger: quiet, logRecords: false });
    const r = await swap();
    assert.equal(r.status, 200);
    assert.equal((r.json as InferenceRecord[])[0]!.model_version, v2);
  });

  it("undeploy stops serving the pipeline", async () => {
    await undeploy(stores, "swap");
    await until("swap to be gone", async () => (await swap()).status === 404);
    assert.equal((await pipelines()).some((p) => p.id === "swap"), false);
  });
});

describe("deployment over NATS request/reply (for the Ops hub)", () => {
  it("ferry.deploy, ferry.current and ferry.undeploy work and answer errors as Ferry-Status + JSON", async () => {
    const site = await startDeploySite({ logRecords: false });
    const deployer = await startDeployer({ natsUrl: site.nats.url, logger: quiet });
    try {
      const sha = createHash("sha256").update(await readFile(house)).digest("hex");
      await uploadModel(site.stores, "house", house, sha);
      const ask = async (subject: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
        const m = await site.nc.request(subject, typeof body === "string" ? body : JSON.stringify(body), { timeout: 5000 });
        return { status: Number(m.headers?.get("Ferry-Status")), json: m.json<Record<string, unknown>>() };
      };
      const deployed = await ask("ferry.deploy", { pipeline: "remote", steps: [{ model: "house", sha256: sha }] });
      assert.equal(deployed.status, 200, JSON.stringify(deployed.json));
      assert.match(String(deployed.json.pipeline_version), /^[0-9a-f-]{36}$/);
      await until("remote to serve", async () => (await post(`${site.gateway.url}/pipelines/remote`, houseRecords([houseRef.rows[0]!]), { "Content-Type": PANDAS })).status === 200);
      assert.equal((await ask("ferry.current", { pipeline: "remote" })).status, 200);
      const typo = await ask("ferry.current", { pipeline: "nope" });
      assert.equal(typo.status, 404, "a pipeline that is not deployed cannot be made current");
      assert.equal(typo.json.code, "unknown_pipeline");
      assert.match(String(typo.json.error), /"nope" is not deployed.*deployed: remote$/);
      await until("/infer to serve remote", async () => (await post(`${site.gateway.url}/infer`, houseRecords([houseRef.rows[0]!]), { "Content-Type": PANDAS })).status === 200);
      const missing = await ask("ferry.deploy", { pipeline: "nope", steps: [{ model: "x", sha256: "0".repeat(64) }] });
      assert.equal(missing.status, 400);
      assert.match(String(missing.json.error), /not in the model store/);
      assert.equal((await ask("ferry.deploy", "{not json")).status, 400);
      assert.equal((await ask("ferry.undeploy", { pipeline: "never-deployed" })).status, 404);
      assert.equal((await ask("ferry.undeploy", { pipeline: "remote" })).status, 200);
      await until("remote to be gone", async () => (await post(`${site.gateway.url}/pipelines/remote`, houseRecords([houseRef.rows[0]!]), { "Content-Type": PANDAS })).status === 404);
      // The store failing the request is 503 unavailable (retry), not a 500: here its bucket deleted under the deployer.
      await (await jetstreamManager(site.nc)).streams.delete(`KV_${Buckets.deployments}`);
      const storeGone = await ask("ferry.deploy", { pipeline: "remote", steps: [{ model: "house", sha256: sha }] });
      assert.equal(storeGone.status, 503, JSON.stringify(storeGone.json));
      assert.equal(storeGone.json.code, "unavailable");
      assert.match(String(storeGone.json.error), /^the deployment store did not answer: /);
    } finally {
      await deployer.stop();
      await site.stop();
    }
  });
});

describe("manifest versions: honoured when given, one per model file across the site", () => {
  let site: DeploySite;
  before(async () => { site = await startDeploySite({ logRecords: false }); });
  after(async () => { await site.stop(); });
  const get = async <T>(path: string): Promise<T> => (await (await fetch(`${site.gateway.url}${path}`)).json()) as T;
  const running = (ids: string[]) => async (): Promise<boolean> => {
    const listed = (await get<Pipelines>("/pipelines")).pipelines;
    return ids.every((id) => listed.some((p) => p.id === id && p.status === "Running"));
  };
  const manifest = async (name: string, body: object): Promise<string> => {
    const path = join(site.dir, `${name}.json`);
    await writeFile(path, JSON.stringify(body));
    return path;
  };

  it("the demo manifests' pipeline_version and step versions are the published ones; their shared model is one /models row", async () => {
    const hp = JSON.parse(await readFile(manifests.houseprice, "utf8")) as { pipeline_version: string; steps: { version: string }[] };
    const a = await publishManifestFile(site.stores, manifests.houseprice);
    const b = await publishManifestFile(site.stores, manifests.bucketed);
    assert.equal(a.manifest.pipeline_version, hp.pipeline_version);
    assert.equal(a.manifest.steps[0]!.version, hp.steps[0]!.version);
    assert.equal(b.manifest.steps[0]!.version, hp.steps[0]!.version, "the same model file in both manifests");
    await until("both pipelines to run", running(["edge-houseprice", "edge-houseprice-bucketed"]));
    const rows = (await get<Models>("/models")).models.filter((m) => m.name === "house-price-estimator");
    assert.deepEqual(rows.map((m) => m.version), [hp.steps[0]!.version], "one row per model version");
    const [rec] = (await post(`${site.gateway.url}/pipelines/edge-houseprice`, houseRecords([houseRef.rows[0]!]), { "Content-Type": PANDAS })).json as InferenceRecord[];
    assert.equal(rec!.model_version, hp.steps[0]!.version);
    const again = await publishManifestFile(site.stores, manifests.houseprice);
    assert.equal(again.manifest.pipeline_version, hp.pipeline_version, "the same version with the same content publishes again");
  });

  it("without versions, two pipelines sharing a model file give it one version", async () => {
    await copyFile(house, join(site.dir, "shared.onnx"));
    const one = await publishManifestFile(site.stores, await manifest("share-a", { pipeline: "share-a", steps: [{ model: "shared", file: "shared.onnx" }] }));
    const two = await publishManifestFile(site.stores, await manifest("share-b", { pipeline: "share-b", steps: [{ model: "shared", file: "shared.onnx" }] }));
    assert.equal(two.manifest.steps[0]!.version, one.manifest.steps[0]!.version);
    await until("both pipelines to run", running(["share-a", "share-b"]));
    assert.equal((await get<Models>("/models")).models.filter((m) => m.name === "shared").length, 1);
  });

  it("a given version that history has with other content is refused with 409 conflict and a reason", async () => {
    await writeFile(join(site.dir, "retrained.onnx"), Buffer.concat([await readFile(house), retrained]));
    const hp = JSON.parse(await readFile(manifests.houseprice, "utf8")) as { pipeline_version: string; steps: { model: string; version: string }[] };
    const clash = (body: object) => assert.rejects(async () => publishManifestFile(site.stores, await manifest("clash", body)),
      (err: FerryError) => err.code === "conflict" && /was published before with other steps|is already the file with sha256/.test(err.message));
    await clash({ pipeline: "edge-houseprice", pipeline_version: hp.pipeline_version, steps: [{ model: "house-price-estimator", file: "retrained.onnx" }] });
    await clash({ pipeline: "other", steps: [{ model: "house-price-estimator", version: hp.steps[0]!.version, file: "retrained.onnx" }] });
    const fresh = await publishManifestFile(site.stores, await manifest("ok", { pipeline: "edge-houseprice", steps: [{ model: "house-price-estimator", file: "retrained.onnx" }] }));
    assert.notEqual(fresh.manifest.pipeline_version, hp.pipeline_version);
    assert.notEqual(fresh.manifest.steps[0]!.version, hp.steps[0]!.version, "a changed file gets a new model version");
  });
});
