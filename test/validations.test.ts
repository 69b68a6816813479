import assert from "node:assert/strict";
import { copyFile, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { FerryError, type InferenceRecord, type LogRecord } from "@ferry/contracts";
import { publishManifestFile } from "@ferry/deployer";
import { houseRef, imageRef, models } from "./helpers/paths.js";
import { ARROW_FILE, PANDAS, houseRecords, post, startDeploySite, until, type DeploySite } from "./helpers/site.js";

describe("validations and shadow models", () => {
  let site: DeploySite;
  before(async () => {
    site = await startDeploySite({ logPublisher: { flushMs: 1 } });
    await copyFile(join(models, "house-price-estimator.onnx"), join(site.dir, "house.onnx"));
    // A challenger: another file (an unknown protobuf field appended) with the same weights.
    await writeFile(join(site.dir, "challenger.onnx"), Buffer.concat([await readFile(join(models, "house-price-estimator.onnx")), Buffer.from([0xa0, 0x06, 0x01])]));
    await copyFile(join(models, "price-bucket.onnx"), join(site.dir, "bucket.onnx"));
    await copyFile(join(models, "image-classifier.onnx"), join(site.dir, "image.onnx"));
    await writeFile(join(site.dir, "house.json"), JSON.stringify({
      pipeline: "checked",
      steps: [{ model: "house", file: "house.onnx", shadows: [{ model: "challenger", file: "challenger.onnx" }, { model: "broken-shadow", file: "bucket.onnx" }] }],
      validations: { too_high: "variable > 800000", cheap: "variable < 400000" },
    }));
    await writeFile(join(site.dir, "ab.json"), JSON.stringify({
      pipeline: "ab", steps: [{ model: "ab-test", split: { arms: [{ model: "house", file: "house.onnx", weight: 2 }, { model: "challenger", file: "challenger.onnx", weight: 1 }] } }],
    }));
    await writeFile(join(site.dir, "ab-keyed.json"), JSON.stringify({
      pipeline: "ab-keyed", steps: [{ model: "ab-test", split: { key_header: true, arms: [{ model: "house", file: "house.onnx", weight: 1 }, { model: "challenger", file: "challenger.onnx", weight: 1 }] } }],
    }));
    await writeFile(join(site.dir, "image.json"), JSON.stringify({
      pipeline: "checked-cv", steps: [{ model: "classifier", file: "image.onnx" }], validations: { confident: "max(probabilities) > 0.2", unsure: "max(probabilities) < 0.2" },
    }));
    await publishManifestFile(site.stores, join(site.dir, "house.json"));
    await publishManifestFile(site.stores, join(site.dir, "image.json"));
    await publishManifestFile(site.stores, join(site.dir, "ab.json"));
    await publishManifestFile(site.stores, join(site.dir, "ab-keyed.json"));
    await until("the pipelines to serve", async () => {
      const p = ((await (await fetch(`${site.gateway.url}/pipelines`)).json()) as { pipelines: { status: string }[] }).pipelines;
      return p.length === 4 && p.every((x) => x.status === "Running");
    });
  });
  after(async () => { await site.stop(); });

  it("check_failures lists the validations each record triggers, from the model's known outputs", async () => {
    const r = await post(`${site.gateway.url}/pipelines/checked`, houseRecords(houseRef.rows), { "Content-Type": PANDAS });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    (r.json as InferenceRecord[]).forEach((rec, i) => {
      const price = houseRef.outputs[i]![0]!;
      const expected = [...(price > 800000 ? [0] : []), ...(price < 400000 ? [1] : [])];
      assert.deepEqual(rec.check_failures, expected, `row ${i}: ${price}`);
    });
    const cv = await post(`${site.gateway.url}/pipelines/checked-cv`, await readFile(join(models, "data", "image_224x224.arrow")), { "Content-Type": ARROW_FILE });
    assert.ok(imageRef.images[0]!.first10_probabilities.length > 0);
    assert.deepEqual((cv.json as InferenceRecord[])[0]!.check_failures, [0], "max probability 0.31 > 0.2");
  });

  it("shadow outputs come under shadow_data by model name; a failing shadow does not fail the request", async () => {
    const r = await post(`${site.gateway.url}/pipelines/checked`, houseRecords(houseRef.rows.slice(0, 3)), { "Content-Type": PANDAS });
    assert.equal(r.status, 200);
    (r.json as InferenceRecord[]).forEach((rec, i) => {
      assert.deepEqual(Object.keys(rec.shadow_data), ["challenger"]);
      const shadow = rec.shadow_data.challenger as { Float: { data: number[]; dim: number[] } }[];
      assert.deepEqual(shadow[0]!.Float.dim, [1, 1]);
      assert.equal(shadow[0]!.Float.data[0], rec.outputs[0]!.Float!.data[0]);
      assert.ok(Math.abs(shadow[0]!.Float.data[0]! - houseRef.outputs[i]![0]!) / houseRef.outputs[i]![0]! < 1e-4);
    });
    const models = ((await (await fetch(`${site.gateway.url}/models`)).json()) as { models: { name: string; status: string }[] }).models;
    const listed = models.filter((m) => ["house", "challenger", "broken-shadow"].includes(m.name));
    assert.deepEqual([...new Set(listed.map((m) => m.name))].sort(), ["broken-shadow", "challenger", "house"]);
    assert.ok(listed.every((m) => m.status === "Running"));
  });

  it("log records carry anomaly flags and out_<shadow> fields", async () => {
    await post(`${site.gateway.url}/pipelines/checked`, houseRecords([houseRef.rows[3]!]), { "Content-Type": PANDAS });
    const price = houseRef.outputs[3]![0]!;
    await until("the record", async () => {
      const res = await fetch(`${site.gateway.url}/logs`, { method: "POST", body: JSON.stringify({ pipeline: "checked", page_size: 1 }) });
      const [rec] = (await res.json()) as LogRecord[];
      return rec?.in.tensor !== undefined && JSON.stringify(rec.in.tensor) === JSON.stringify(houseRef.rows[3]);
    });
    const res = await fetch(`${site.gateway.url}/logs`, { method: "POST", body: JSON.stringify({ pipeline: "checked", page_size: 1 }) });
    const [rec] = (await res.json()) as (LogRecord & Record<string, unknown>)[];
    assert.deepEqual(rec!.anomaly, { count: (price > 800000 ? 1 : 0) + (price < 400000 ? 1 : 0), too_high: price > 800000, cheap: price < 400000 });
    assert.deepEqual(Object.keys(rec!["out_challenger"] as object), ["variable"]);
  });

  it("an A/B split sends 2:1 by weight, and the same key always to the same model", async () => {
    const counts = new Map<string, number>();
    const body = houseRecords([houseRef.rows[0]!]);
    for (let round = 0; round < 3000 / 50; round++) {
      const replies = await Promise.all(Array.from({ length: 50 }, () => post(`${site.gateway.url}/pipelines/ab`, body, { "Content-Type": PANDAS })));
      for (const r of replies) {
        assert.equal(r.status, 200);
        const rec = (r.json as InferenceRecord[])[0]!;
        counts.set(rec.model_name, (counts.get(rec.model_name) ?? 0) + 1);
        assert.ok(Math.abs((rec.outputs[0]!.Float!.data[0] as number) - houseRef.outputs[0]![0]!) / houseRef.outputs[0]![0]! < 1e-4);
      }
    }
    const share = (counts.get("house") ?? 0) / 3000;
    assert.ok(share > 0.62 && share < 0.71, `house answered ${share} of the requests (2:1 is 0.667): ${JSON.stringify([...counts])}`);
    const byKey = async (key: string): Promise<string> => {
      const r = await post(`${site.gateway.url}/pipelines/ab-keyed`, body, { "Content-Type": PANDAS, "Ferry-Split-Key": key });
      return (r.json as InferenceRecord[])[0]!.model_name;
    };
    const seen = new Set<string>();
    for (let k = 0; k < 20; k++) {
      const first = await byKey(`session-${k}`);
      seen.add(first);
      for (let again = 0; again < 5; again++) assert.equal(await byKey(`session-${k}`), first);
    }
    assert.equal(seen.size, 2, "different keys reach both models");
    await until("the split in the log", async () => {
      const res = await fetch(`${site.gateway.url}/logs`, { method: "POST", body: JSON.stringify({ pipeline: "ab-keyed", page_size: 1 }) });
      const [rec] = (await res.json()) as LogRecord[];
      const split = (rec?.out as Record<string, unknown> | undefined)?._model_split as string[] | undefined;
      return split !== undefined && ["house", "challenger"].includes((JSON.parse(split[0]!) as { name: string }).name);
    });
  });

  it("a malformed expression is refused at publish; an unknown output name is reported by the inferers", async () => {
    await writeFile(join(site.dir, "bad.json"), JSON.stringify({ pipeline: "bad", steps: [{ model: "house", file: "house.onnx" }], validations: { broken: "variable >" } }));
    await assert.rejects(publishManifestFile(site.stores, join(site.dir, "bad.json")), (e: unknown) => e instanceof FerryError && e.code === "bad_request" && /validation broken: .*column/.test(e.message));
    await writeFile(join(site.dir, "unknown.json"), JSON.stringify({ pipeline: "unknown-name", steps: [{ model: "house", file: "house.onnx" }], validations: { wrong: "price > 3" } }));
    await publishManifestFile(site.stores, join(site.dir, "unknown.json"));
    await until("the error to show", async () => {
      const p = ((await (await fetch(`${site.gateway.url}/pipelines`)).json()) as { pipelines: { id: string; status: string; detail?: string }[] }).pipelines;
      const u = p.find((x) => x.id === "unknown-name");
      return u?.status === "Error" && /validation wrong/.test(u.detail ?? "");
    });
  });
});
