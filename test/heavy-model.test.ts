import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { InferenceRecord } from "@ferry/contracts";
import { heavyImageRef, imagePixels, manifests, models } from "./helpers/paths.js";
import { ARROW_FILE, PANDAS, post, relDiff, startTestSite, type TestSite } from "./helpers/site.js";

/** bench/scale's compute-bound classifier must compute what the generator says, like the test models. */
describe("the compute-bound bench classifier (edge-cv-heavy)", () => {
  let site: TestSite;
  before(async () => { site = await startTestSite({ manifests: [manifests.cvHeavy] }); });
  after(async () => { await site.stop(); });

  const check = (rec: InferenceRecord | undefined, i: number): void => {
    assert.ok(rec);
    const p = rec.outputs[1]!.Float!.data as number[];
    assert.equal(p.length, 1001);
    assert.equal(rec.outputs[0]!.Int64!.data[0], heavyImageRef.images[i]!.class);
    heavyImageRef.images[i]!.first10_probabilities.forEach((x, k) => assert.ok(relDiff(p[k]!, x) < 1e-3, `image ${i} p[${k}] ${p[k]} vs ${x}`));
  };

  it("the Arrow image and a pandas-records image get the generator's classes and probabilities", async () => {
    const arrow = await post(`${site.url}/pipelines/edge-cv-heavy`, new Uint8Array(readFileSync(join(models, "data", "image_224x224.arrow"))), { "Content-Type": ARROW_FILE });
    assert.equal(arrow.status, 200, JSON.stringify(arrow.json).slice(0, 300));
    check((arrow.json as InferenceRecord[])[0], 0);
    const px = imagePixels(1);
    const nested = Array.from({ length: 3 }, (_, c) => Array.from({ length: 224 }, (_, y) => Array.from(px.subarray((c * 224 + y) * 224, (c * 224 + y + 1) * 224))));
    const json = await post(`${site.url}/pipelines/edge-cv-heavy`, JSON.stringify([{ tensor: nested }]), { "Content-Type": PANDAS });
    assert.equal(json.status, 200, JSON.stringify(json.json).slice(0, 300));
    check((json.json as InferenceRecord[])[0], 1);
  });
});
