import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Field, FixedSizeList, Float32, Table, tableFromIPC, tableToIPC, vectorFromArray } from "apache-arrow";
import type { InferenceRecord } from "@ferry/contracts";
import { bucketRef, houseRef, imagePixels, imageRef, models } from "./helpers/paths.js";
import { ARROW_FILE, ARROW_STREAM, PANDAS, houseRecords, post, relDiff, startTestSite, type TestSite } from "./helpers/site.js";

const specKeys = ["check_failures", "elapsed", "model_name", "model_version", "original_data", "outputs", "pipeline_name", "shadow_data", "time"];

function floatsOf(record: InferenceRecord, key = "Float"): number[] {
  const entry = record.outputs.find((o) => key in o);
  assert.ok(entry, `no ${key} output in ${JSON.stringify(record.outputs).slice(0, 200)}`);
  return entry[key]!.data as number[];
}

describe("inference over HTTP → NATS → inferer", () => {
  let site: TestSite;
  before(async () => { site = await startTestSite(); });
  after(async () => { await site.stop(); });

  it("GET /pipelines and /models report the running pipelines with the spec's fields", async () => {
    const p = await (await fetch(`${site.url}/pipelines`)).json() as { pipelines: { id: string; status: string; version: string }[] };
    assert.deepEqual(p.pipelines.map((x) => [x.id, x.status]).sort(), [["edge-cv-demo", "Running"], ["edge-houseprice", "Running"], ["edge-houseprice-bucketed", "Running"]]);
    assert.match(p.pipelines[0]!.version, /^[0-9a-f-]{36}$/);
    const m = await (await fetch(`${site.url}/models`)).json() as { models: { name: string; sha: string; status: string; version: string }[] };
    const house = m.models.find((x) => x.name === "house-price-estimator");
    assert.ok(house);
    assert.equal(house.status, "Running");
    assert.match(house.sha, /^[0-9a-f]{64}$/);
    assert.match(house.version, /^[0-9a-f-]{36}$/);
  });

  it("house-price: 20 rows in one pandas-records request → 20 records matching the generator within 1e-4", async () => {
    const r = await post(`${site.url}/infer`, houseRecords(houseRef.rows), { "Content-Type": PANDAS });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.type, PANDAS);
    const records = r.json as InferenceRecord[];
    assert.equal(records.length, houseRef.rows.length);
    records.forEach((rec, i) => {
      assert.deepEqual(Object.keys(rec), specKeys);
      assert.equal(rec.pipeline_name, "edge-houseprice");
      assert.equal(rec.model_name, "house-price-estimator");
      assert.deepEqual(rec.outputs[0]!.Float!.dim, [1, 1]);
      assert.equal(rec.elapsed.length, 2);
      assert.ok(rec.elapsed.every((e) => Number.isInteger(e) && e >= 0));
      assert.deepEqual(rec.original_data, { tensor: houseRef.rows[i] });
      const got = floatsOf(rec)[0]!;
      assert.ok(relDiff(got, houseRef.outputs[i]![0]!) < 1e-4, `row ${i}: ${got} vs ${houseRef.outputs[i]![0]}`);
    });
  });

  it("Arrow file, Arrow stream and pandas-records give the same numbers", async () => {
    const table = new Table({ tensor: vectorFromArray(houseRef.rows, new FixedSizeList(18, new Field("item", new Float32()))) });
    const viaFile = await post(`${site.url}/infer`, tableToIPC(table, "file"), { "Content-Type": ARROW_FILE });
    const viaStream = await post(`${site.url}/pipelines/edge-houseprice`, tableToIPC(table, "stream"), { "Content-Type": ARROW_STREAM });
    const committed = await post(`${site.url}/infer`, new Uint8Array(readFileSync(join(models, "data", "houseprice.arrow"))), { "Content-Type": ARROW_FILE });
    for (const r of [viaFile, viaStream, committed]) {
      assert.equal(r.status, 200, JSON.stringify(r.json));
      (r.json as InferenceRecord[]).forEach((rec, i) => assert.ok(relDiff(floatsOf(rec)[0]!, houseRef.outputs[i]![0]!) < 1e-4));
    }
  });

  it("Accept: Arrow returns the same records as an Arrow table", async () => {
    const r = await post(`${site.url}/infer`, houseRecords(houseRef.rows.slice(0, 3)), { "Content-Type": PANDAS, Accept: ARROW_FILE });
    assert.equal(r.status, 200);
    assert.equal(r.type, ARROW_FILE);
    const t = tableFromIPC(r.bytes);
    assert.equal(t.numRows, 3);
    assert.equal(t.getChild("model_name")?.get(0), "house-price-estimator");
    for (let i = 0; i < 3; i++) {
      const v = [...(t.getChild("out.variable")?.get(i) as Iterable<number>)][0]!;
      assert.ok(relDiff(v, houseRef.outputs[i]![0]!) < 1e-4);
    }
  });

  it("image classifier: an Arrow [3][224][224] image → Int64 class = argmax of the Float probabilities", async () => {
    const r = await post(`${site.url}/pipelines/edge-cv-demo`, new Uint8Array(readFileSync(join(models, "data", "image_224x224.arrow"))), { "Content-Type": ARROW_FILE, Accept: PANDAS });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const [rec] = r.json as InferenceRecord[];
    assert.ok(rec);
    assert.equal(rec.original_data, null, "a 150,528-value row is too large to echo");
    const cls = rec.outputs[0]!.Int64!;
    const probs = rec.outputs[1]!.Float!;
    assert.deepEqual(cls.dim, [1]);
    assert.deepEqual(probs.dim, [1, 1001]);
    const p = probs.data as number[];
    assert.equal(cls.data[0], p.indexOf(Math.max(...p)));
    assert.equal(cls.data[0], imageRef.images[0]!.class);
    imageRef.images[0]!.first10_probabilities.forEach((x, i) => assert.ok(relDiff(p[i]!, x) < 1e-3));
  });

  it("image classifier: two images as nested pandas-records lists in one request, one batched run", async () => {
    const nest = (px: Float32Array): number[][][] => Array.from({ length: 3 }, (_, c) => Array.from({ length: 224 }, (_, y) => Array.from(px.subarray((c * 224 + y) * 224, (c * 224 + y + 1) * 224))));
    const body = JSON.stringify([0, 1].map((i) => ({ tensor: nest(imagePixels(i)) })));
    const runsBefore = site.inferer!.stats().runs;
    const r = await post(`${site.url}/pipelines/edge-cv-demo`, body, { "Content-Type": PANDAS });
    assert.equal(r.status, 200, JSON.stringify(r.json).slice(0, 300));
    const records = r.json as InferenceRecord[];
    assert.deepEqual(records.map((x) => x.outputs[0]!.Int64!.data[0]), imageRef.images.map((x) => x.class));
    assert.equal(site.inferer!.stats().runs - runsBefore, 1);
  });

  it("a two-step pipeline feeds step 1's outputs to step 2 by name", async () => {
    const r = await post(`${site.url}/pipelines/edge-houseprice-bucketed`, houseRecords(houseRef.rows), { "Content-Type": PANDAS });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const records = r.json as InferenceRecord[];
    assert.deepEqual(records.map((x) => x.outputs[0]!.Int64!.data), bucketRef.buckets);
    assert.equal(records[0]!.model_name, "price-bucket");
    assert.equal(records[0]!.elapsed.length, 3);
  });

  it("concurrent requests (coalesced as they queue) each get their own reply", async () => {
    const before = site.inferer!.stats();
    const n = 64;
    const replies = await Promise.all(Array.from({ length: n }, (_, i) => post(`${site.url}/infer`, houseRecords([houseRef.rows[i % 20]!]), { "Content-Type": PANDAS })));
    replies.forEach((r, i) => {
      assert.equal(r.status, 200);
      const [rec] = r.json as InferenceRecord[];
      assert.ok(relDiff(floatsOf(rec!)[0]!, houseRef.outputs[i % 20]![0]!) < 1e-4, `reply ${i} is not its own`);
    });
    // How many NATS messages carried them depends on timing; test/coalescer.test.ts checks that deterministically.
    assert.equal(site.inferer!.stats().requests - before.requests, n);
  });
});
