import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { InferenceRecord } from "@ferry/contracts";
import { bucketRef, houseRef, imagePixels, imageRef, models } from "./helpers/paths.js";
import { ARROW_FILE, PANDAS, post, startTestSite, type TestSite } from "./helpers/site.js";
import { assertNearReference, binaryRequest, f32Bytes, f32Of, i64Of, outputOf, paddedBinaryRequest, v2Post } from "./helpers/v2.js";

const houseBytes = (rows: readonly number[][]): Uint8Array => f32Bytes(Float32Array.from(rows.flat()));
const rawHouse = (rows: readonly number[][], size = rows.length * 18 * 4): unknown => ({ name: "tensor", datatype: "FP32", shape: [rows.length, 18], parameters: { binary_data_size: size } });

describe("V2 REST: the binary data extension", () => {
  let site: TestSite;
  let houseInfer: string;
  before(async () => {
    site = await startTestSite();
    houseInfer = `${site.url}/v2/models/edge-houseprice/infer`;
  });
  after(async () => { await site.stop(); });

  it("raw Float32 rows in, raw outputs back: the JSON header, then binary_data_size bytes equal to a JSON request's values", async () => {
    const { body, headers } = binaryRequest({ id: "bin", inputs: [rawHouse(houseRef.rows)], parameters: { binary_data_output: true } }, houseBytes(houseRef.rows));
    const r = await v2Post(houseInfer, body, headers);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.type, "application/octet-stream");
    assert.ok(r.headerLength !== null && Number(r.headerLength) > 0);
    assert.equal(r.json.id, "bin");
    const out = outputOf(r, "variable");
    assert.deepEqual(out, { name: "variable", datatype: "FP32", shape: [20, 1], parameters: { binary_data_size: 80 } });
    const values = f32Of(r.raw.get("variable"));
    assertNearReference(values, houseRef.outputs.flat(), 1e-6, "variable");
    const json = await v2Post(houseInfer, JSON.stringify({ inputs: [{ name: "tensor", datatype: "FP32", shape: [20, 18], data: houseRef.rows }] }));
    assert.deepEqual(values, outputOf(json, "variable").data, "bit-exact: raw bytes hold the JSON reply's numbers");
  });

  it("raw input with JSON output, the raw data at every byte offset; JSON input with one output asked for as binary", async () => {
    const rows = houseRef.rows.slice(0, 5);
    for (let pad = 0; pad < 4; pad++) {
      // Float32 data after a JSON header of any length: at least three of these are unaligned.
      const { body, headers } = paddedBinaryRequest({ inputs: [rawHouse(rows)] }, pad, houseBytes(rows));
      const r = await v2Post(houseInfer, body, headers);
      assert.equal(r.status, 200, `pad ${pad}: ${JSON.stringify(r.json)}`);
      assert.equal(r.type, "application/json");
      assert.equal(r.headerLength, null);
      assertNearReference(outputOf(r, "variable").data!, houseRef.outputs.slice(0, 5).flat(), 1e-6, "variable");
    }

    const bucketed = await v2Post(`${site.url}/v2/models/edge-houseprice-bucketed/infer`, JSON.stringify({
      inputs: [{ name: "tensor", datatype: "FP32", shape: [20, 18], data: houseRef.rows.flat() }],
      outputs: [{ name: "bucket", parameters: { binary_data: true } }],
    }));
    assert.equal(bucketed.status, 200, JSON.stringify(bucketed.json));
    assert.deepEqual(outputOf(bucketed, "bucket"), { name: "bucket", datatype: "INT64", shape: [20, 1], parameters: { binary_data_size: 160 } });
    assert.deepEqual(i64Of(bucketed.raw.get("bucket")), bucketRef.buckets.flat());
  });

  it("two images as raw bytes, one request: classes and probabilities as the references and the Wallaroo endpoint's", async () => {
    const pixels = [imagePixels(0), imagePixels(1)];
    const tensor = { name: "tensor", datatype: "FP32", shape: [2, 3, 224, 224], parameters: { binary_data_size: 2 * 3 * 224 * 224 * 4 } };
    const { body, headers } = binaryRequest({ inputs: [tensor], parameters: { binary_data_output: true } }, ...pixels.map(f32Bytes));
    const r = await v2Post(`${site.url}/v2/models/edge-cv-demo/infer`, body, headers);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual(r.json.outputs, [
      { name: "classification", datatype: "INT64", shape: [2], parameters: { binary_data_size: 16 } },
      { name: "probabilities", datatype: "FP32", shape: [2, 1001], parameters: { binary_data_size: 2 * 1001 * 4 } },
    ]);
    assert.deepEqual(i64Of(r.raw.get("classification")), imageRef.images.map((x) => x.class));
    const probs = f32Of(r.raw.get("probabilities"));
    imageRef.images.forEach((img, i) => assertNearReference(probs.slice(i * 1001, i * 1001 + 10), img.first10_probabilities, 1e-4, `image ${i}`));
    const wallaroo = await post(`${site.url}/pipelines/edge-cv-demo`, new Uint8Array(readFileSync(join(models, "data", "image_224x224.arrow"))), { "Content-Type": ARROW_FILE, Accept: PANDAS });
    const [rec] = wallaroo.json as InferenceRecord[];
    assert.deepEqual(probs.slice(0, 1001), rec!.outputs[1]!.Float!.data, "bit-exact: image 0's probabilities as the Wallaroo endpoint's");

    // The request's default (JSON) for one output, binary for the other.
    const one = binaryRequest({ inputs: [{ ...tensor, shape: [1, 3, 224, 224], parameters: { binary_data_size: 3 * 224 * 224 * 4 } }], outputs: [{ name: "classification" }, { name: "probabilities", parameters: { binary_data: true } }] }, f32Bytes(pixels[1]!));
    const mixed = await v2Post(`${site.url}/v2/models/edge-cv-demo/infer`, one.body, one.headers);
    assert.equal(mixed.status, 200, JSON.stringify(mixed.json));
    assert.deepEqual(outputOf(mixed, "classification").data, [imageRef.images[1]!.class]);
    assert.deepEqual(f32Of(mixed.raw.get("probabilities")), probs.slice(1001));
  });

  it("sizes that do not add up are 400: past the body, bytes left over, a partial element, not the shape's, a bad header length", async () => {
    const rows = houseRef.rows.slice(0, 2);
    const bytes = houseBytes(rows);
    const cases: [string, { body: Uint8Array; headers: Record<string, string> }, string, RegExp][] = [
      ["binary_data_size past the body", binaryRequest({ inputs: [rawHouse(rows, 148)] }, bytes), "bad_request", /binary_data_size 148 goes past the 144 bytes/],
      ["bytes after the last input", binaryRequest({ inputs: [rawHouse(rows, 140)] }, bytes), "bad_request", /4 bytes after the JSON header belong to no input/],
      ["a negative size", binaryRequest({ inputs: [rawHouse(rows, -4)] }, bytes), "bad_request", /binary_data_size -4/],
      ["a size that is not a number", binaryRequest({ inputs: [rawHouse(rows, "144" as unknown as number)] }, bytes), "bad_request", /binary_data_size "144"/],
      ["a partial FP32 element", binaryRequest({ inputs: [rawHouse(rows, 143)] }, bytes.subarray(0, 143)), "bad_tensor", /143 bytes of FP32 data is not a whole number of 4-byte elements/],
      ["one row of bytes for two rows", binaryRequest({ inputs: [rawHouse(rows, 72)] }, bytes.subarray(0, 72)), "bad_tensor", /holds 36 elements, the data 18/],
    ];
    const header = Buffer.from(JSON.stringify({ inputs: [rawHouse(rows)] }));
    const raw = (length: string): { body: Uint8Array; headers: Record<string, string> } => ({ body: Buffer.concat([header, bytes]), headers: { "Inference-Header-Content-Length": length } });
    cases.push(
      ["a header length past the body", raw(String(header.byteLength + bytes.byteLength + 1)), "bad_request", /Inference-Header-Content-Length/],
      ["a header length that is not a number", raw("lots"), "bad_request", /Inference-Header-Content-Length "lots"/],
      ["a header length in exponent notation", raw(`${header.byteLength / 10}e1`), "bad_request", /Inference-Header-Content-Length "/],
      ["a negative header length", raw("-1"), "bad_request", /Inference-Header-Content-Length "-1"/],
      ["a header length inside the JSON", raw(String(header.byteLength - 1)), "bad_json", /not JSON/],
      ["no header length: the raw bytes are read as JSON", { body: Buffer.concat([header, bytes]), headers: {} }, "bad_json", /not JSON/],
    );
    for (const [what, { body, headers }, code, message] of cases) {
      const r = await v2Post(houseInfer, body, headers);
      assert.equal(r.status, 400, `${what}: ${JSON.stringify(r.json)}`);
      assert.equal(r.json.code, code, `${what}: ${JSON.stringify(r.json)}`);
      assert.match(r.json.error!, message, what);
    }
  });
});
