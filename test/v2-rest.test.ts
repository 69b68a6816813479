import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { InferenceRecord } from "@ferry/contracts";
import { bucketRef, houseRef, imagePixels, imageRef, manifests, models } from "./helpers/paths.js";
import { ARROW_FILE, PANDAS, houseRecords, post, startTestSite, type TestSite } from "./helpers/site.js";
import { assertNearReference, outputOf, v2Post } from "./helpers/v2.js";

const versions = {
  house: (JSON.parse(readFileSync(manifests.houseprice, "utf8")) as { pipeline_version: string }).pipeline_version,
  bucketed: (JSON.parse(readFileSync(manifests.bucketed, "utf8")) as { pipeline_version: string }).pipeline_version,
  cv: (JSON.parse(readFileSync(manifests.cv, "utf8")) as { pipeline_version: string }).pipeline_version,
};

const houseTensor = (rows: readonly number[][]): unknown => ({ name: "tensor", datatype: "FP32", shape: [rows.length, 18], data: rows.flat() });

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe("V2 REST (Open Inference Protocol): metadata, health, JSON tensors", () => {
  let site: TestSite;
  let v2: string;
  before(async () => {
    site = await startTestSite();
    v2 = `${site.url}/v2`;
  });
  after(async () => { await site.stop(); });

  it("GET /v2 names the server and the binary data extension; live and ready answer 200", async () => {
    const meta = await getJson(v2);
    assert.equal(meta.status, 200);
    assert.equal(meta.body.name, "ferry");
    assert.equal(typeof meta.body.version, "string");
    assert.ok((meta.body.extensions as string[]).includes("binary_tensor_data"));
    assert.deepEqual(await getJson(`${v2}/health/live`), { status: 200, body: { live: true } });
    assert.deepEqual(await getJson(`${v2}/health/ready`), { status: 200, body: { ready: true } });
  });

  it("model metadata: the pipeline's inputs and last step's outputs, batch dimension -1, with and without the version", async () => {
    const house = await getJson(`${v2}/models/edge-houseprice`);
    assert.equal(house.status, 200);
    assert.deepEqual(house.body, {
      name: "edge-houseprice", versions: [versions.house], platform: "onnxruntime_onnx",
      inputs: [{ name: "tensor", datatype: "FP32", shape: [-1, 18] }], outputs: [{ name: "variable", datatype: "FP32", shape: [-1, 1] }],
    });
    assert.deepEqual(await getJson(`${v2}/models/edge-houseprice/versions/${versions.house}`), house);
    const cv = await getJson(`${v2}/models/edge-cv-demo`);
    assert.deepEqual(cv.body.inputs, [{ name: "tensor", datatype: "FP32", shape: [-1, 3, 224, 224] }]);
    assert.deepEqual(cv.body.outputs, [{ name: "classification", datatype: "INT64", shape: [-1] }, { name: "probabilities", datatype: "FP32", shape: [-1, 1001] }]);
    const bucketed = await getJson(`${v2}/models/edge-houseprice-bucketed/versions/${versions.bucketed}`);
    assert.deepEqual(bucketed.body.inputs, [{ name: "tensor", datatype: "FP32", shape: [-1, 18] }]);
    assert.deepEqual(bucketed.body.outputs, [{ name: "bucket", datatype: "INT64", shape: [-1, 1] }]);
  });

  it("model ready with and without the version; unknown model 404 unknown_model, unknown version 404 unknown_version", async () => {
    assert.deepEqual(await getJson(`${v2}/models/edge-cv-demo/ready`), { status: 200, body: { name: "edge-cv-demo", ready: true } });
    assert.deepEqual(await getJson(`${v2}/models/edge-cv-demo/versions/${versions.cv}/ready`), { status: 200, body: { name: "edge-cv-demo", ready: true } });
    for (const path of ["/models/nope", "/models/nope/ready", "/models/nope/versions/1", "/models/nope/versions/1/ready"]) {
      const r = await getJson(`${v2}${path}`);
      assert.equal(r.status, 404, path);
      assert.equal(r.body.code, "unknown_model", path);
      assert.equal(typeof r.body.error, "string");
    }
    for (const path of [`/models/edge-houseprice/versions/${versions.cv}`, `/models/edge-houseprice/versions/${versions.cv}/ready`]) {
      const r = await getJson(`${v2}${path}`);
      assert.equal(r.status, 404, path);
      assert.equal(r.body.code, "unknown_version", path);
    }
    const infer = await v2Post(`${v2}/models/nope/infer`, JSON.stringify({ inputs: [houseTensor([houseRef.rows[0]!])] }));
    assert.equal(infer.status, 404);
    assert.equal(infer.json.code, "unknown_model");
    const wrongVersion = await v2Post(`${v2}/models/edge-houseprice/versions/${versions.cv}/infer`, JSON.stringify({ inputs: [houseTensor([houseRef.rows[0]!])] }));
    assert.equal(wrongVersion.status, 404);
    assert.equal(wrongVersion.json.code, "unknown_version");
  });

  it("FP32 in, FP32 out: 20 rows in one request → shape [20,1], float32 values equal to the Wallaroo endpoint's and near the references", async () => {
    const r = await v2Post(`${v2}/models/edge-houseprice/infer`, JSON.stringify({ id: "req-42", inputs: [houseTensor(houseRef.rows)] }));
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.type, "application/json");
    assert.equal(r.headerLength, null);
    assert.equal(r.json.model_name, "edge-houseprice");
    assert.equal(r.json.model_version, versions.house);
    assert.equal(r.json.id, "req-42");
    assert.equal(r.json.outputs.length, 1);
    const out = outputOf(r, "variable");
    assert.equal(out.datatype, "FP32");
    assert.deepEqual(out.shape, [20, 1]);
    assertNearReference(out.data!, houseRef.outputs.flat(), 1e-6, "variable");
    assert.equal(r.json.parameters.step_model, "house-price-estimator");
    assert.equal(r.json.parameters.check_failures, JSON.stringify(houseRef.rows.map(() => [])));
    assert.equal(r.json.parameters.shadow_data, undefined, "no shadows, no shadow_data");
    const wallaroo = await post(`${site.url}/pipelines/edge-houseprice`, houseRecords(houseRef.rows), { "Content-Type": PANDAS });
    assert.equal(wallaroo.status, 200);
    const records = wallaroo.json as InferenceRecord[];
    assert.deepEqual(out.data, records.flatMap((rec) => rec.outputs[0]!.Float!.data), "bit-exact: the same numbers as the Wallaroo endpoint's");
    assert.equal(r.json.parameters.step_model_version, records[0]!.model_version);
  });

  it("nested data, flat data and a version in the path give the same outputs; no id, no id echoed", async () => {
    const rows = houseRef.rows.slice(4, 7);
    const flat = await v2Post(`${v2}/models/edge-houseprice/infer`, JSON.stringify({ inputs: [houseTensor(rows)] }));
    const nested = await v2Post(`${v2}/models/edge-houseprice/infer`, JSON.stringify({ inputs: [{ name: "tensor", datatype: "FP32", shape: [3, 18], data: rows }] }));
    const versioned = await v2Post(`${v2}/models/edge-houseprice/versions/${versions.house}/infer`, JSON.stringify({ id: "", inputs: [houseTensor(rows)] }));
    for (const r of [flat, nested, versioned]) {
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.deepEqual(outputOf(r, "variable").shape, [3, 1]);
      assertNearReference(outputOf(r, "variable").data!, houseRef.outputs.slice(4, 7).flat(), 1e-6, "variable");
    }
    assert.equal("id" in flat.json, false);
    assert.equal(versioned.json.id, "");
    assert.equal(versioned.json.model_version, versions.house);
  });

  it("INT64 out of a two-step pipeline: shape [rows,1], the reference buckets, equal to the Wallaroo endpoint's", async () => {
    const r = await v2Post(`${v2}/models/edge-houseprice-bucketed/infer`, JSON.stringify({ inputs: [houseTensor(houseRef.rows)] }));
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const bucket = outputOf(r, "bucket");
    assert.equal(bucket.datatype, "INT64");
    assert.deepEqual(bucket.shape, [20, 1]);
    assert.deepEqual(bucket.data, bucketRef.buckets.flat());
    assert.equal(r.json.parameters.step_model, "price-bucket");
    const wallaroo = await post(`${site.url}/pipelines/edge-houseprice-bucketed`, houseRecords(houseRef.rows), { "Content-Type": PANDAS });
    assert.deepEqual(bucket.data, (wallaroo.json as InferenceRecord[]).flatMap((rec) => rec.outputs[0]!.Int64!.data));
  });

  it("an image as nested JSON: INT64 classification [1] and FP32 probabilities [1,1001] as the Wallaroo endpoint's; `outputs` picks one", async () => {
    const px = imagePixels(0);
    const nested = Array.from({ length: 3 }, (_, c) => Array.from({ length: 224 }, (_, y) => Array.from(px.subarray((c * 224 + y) * 224, (c * 224 + y + 1) * 224))));
    const tensor = { name: "tensor", datatype: "FP32", shape: [1, 3, 224, 224], data: [nested] };
    const r = await v2Post(`${v2}/models/edge-cv-demo/infer`, JSON.stringify({ inputs: [tensor] }));
    assert.equal(r.status, 200, JSON.stringify(r.json).slice(0, 300));
    assert.deepEqual(r.json.outputs.map((o) => [o.name, o.datatype, o.shape]), [["classification", "INT64", [1]], ["probabilities", "FP32", [1, 1001]]]);
    assert.deepEqual(outputOf(r, "classification").data, [imageRef.images[0]!.class]);
    const probs = outputOf(r, "probabilities").data as number[];
    assertNearReference(probs.slice(0, 10), imageRef.images[0]!.first10_probabilities, 1e-4, "probabilities");
    const wallaroo = await post(`${site.url}/pipelines/edge-cv-demo`, new Uint8Array(readFileSync(join(models, "data", "image_224x224.arrow"))), { "Content-Type": ARROW_FILE, Accept: PANDAS });
    const [rec] = wallaroo.json as InferenceRecord[];
    assert.deepEqual(outputOf(r, "classification").data, rec!.outputs[0]!.Int64!.data);
    assert.deepEqual(probs, rec!.outputs[1]!.Float!.data);

    const only = await v2Post(`${v2}/models/edge-cv-demo/infer`, JSON.stringify({ inputs: [tensor], outputs: [{ name: "probabilities" }] }));
    assert.equal(only.status, 200);
    assert.deepEqual(only.json.outputs.map((o) => o.name), ["probabilities"]);
    assert.deepEqual(outputOf(only, "probabilities").data, probs);
  });

  it("tensors that do not fit the model are 400 bad_tensor, naming what is wrong", async () => {
    const row = houseRef.rows[0]!;
    const cases: [string, unknown, RegExp][] = [
      ["wrong datatype", { inputs: [{ name: "tensor", datatype: "FP64", shape: [1, 18], data: row }] }, /datatype "FP64"; the model takes FP32/],
      ["not a datatype", { inputs: [{ name: "tensor", datatype: "float", shape: [1, 18], data: row }] }, /datatype "float"/],
      ["wrong shape", { inputs: [{ name: "tensor", datatype: "FP32", shape: [1, 17], data: row.slice(1) }] }, /shape \[1,17\]; the model takes \[-1,18\]/],
      ["wrong rank", { inputs: [{ name: "tensor", datatype: "FP32", shape: [18], data: row }] }, /shape \[18\]/],
      ["data shorter than the shape", { inputs: [{ name: "tensor", datatype: "FP32", shape: [2, 18], data: row }] }, /holds 36 elements, the data 18/],
      ["data longer than the shape", { inputs: [{ name: "tensor", datatype: "FP32", shape: [1, 18], data: [...row, 1] }] }, /holds 18 elements, the data 19/],
      ["a string element", { inputs: [{ name: "tensor", datatype: "FP32", shape: [1, 18], data: [...row.slice(1), "x"] }] }, /element 17 .* is not a FP32 value/],
      ["an unknown input", { inputs: [{ name: "features", datatype: "FP32", shape: [1, 18], data: row }] }, /no input "features"; its inputs: tensor/],
      ["an input given twice", { inputs: [houseTensor([row]), houseTensor([row])] }, /given twice/],
      ["an input without data", { inputs: [{ name: "tensor", datatype: "FP32", shape: [1, 18] }] }, /has no "data"/],
      ["an unknown output", { inputs: [houseTensor([row])], outputs: [{ name: "price" }] }, /no output "price"; its outputs: variable/],
    ];
    const cells = (first: string): string => `{"inputs": [{"name": "tensor", "datatype": "FP32", "shape": [1, 18], "data": [${[first, ...row.slice(1)].join(",")}]}]}`;
    // JSON.parse reads 1e400 as Infinity, which no model input takes (422 bad_input_type on /pipelines): 400 bad_tensor here.
    cases.push(["a value beyond float64", cells("1e400"), /element 0 \(Infinity\) is not a FP32 value/]);
    for (const [what, body, message] of cases) {
      const r = await v2Post(`${v2}/models/edge-houseprice/infer`, typeof body === "string" ? body : JSON.stringify(body));
      assert.equal(r.status, 400, `${what}: ${JSON.stringify(r.json)}`);
      assert.equal(r.json.code, "bad_tensor", what);
      assert.match(r.json.error!, message, what);
    }
  });

  it("malformed requests: bad JSON 400 bad_json, an empty body 400 empty_body, no inputs or a bad outputs list 400 bad_request", async () => {
    const cases: [string, string, number, string][] = [
      ["bad JSON", "{\"inputs\": [", 400, "bad_json"],
      ["empty body", "", 400, "empty_body"],
      ["not an object", "[1,2]", 400, "bad_request"],
      ["no inputs", "{}", 400, "bad_request"],
      ["empty inputs", "{\"inputs\": []}", 400, "bad_request"],
      ["an input that is not an object", "{\"inputs\": [3]}", 400, "bad_request"],
      ["outputs not a list", JSON.stringify({ inputs: [houseTensor([houseRef.rows[0]!])], outputs: { name: "variable" } }), 400, "bad_request"],
      ["an output without a name", JSON.stringify({ inputs: [houseTensor([houseRef.rows[0]!])], outputs: [{}] }), 400, "bad_request"],
    ];
    for (const [what, body, status, code] of cases) {
      const r = await v2Post(`${v2}/models/edge-houseprice/infer`, body);
      assert.equal(r.status, status, `${what}: ${JSON.stringify(r.json)}`);
      assert.equal(r.json.code, code, what);
    }
  });

  it("V2 inferences count in ferry_gateway_requests_total under their pipeline, refusals under their status", async () => {
    const count = async (code: number): Promise<number> => {
      const text = await (await fetch(`${site.url}/metrics`)).text();
      const m = new RegExp(`^ferry_gateway_requests_total\\{[^}]*pipeline="edge-houseprice"[^}]*code="${code}"[^}]*\\} (\\d+)`, "m").exec(text);
      return m ? Number(m[1]) : 0;
    };
    const [ok, bad] = [await count(200), await count(400)];
    for (let i = 0; i < 3; i++) assert.equal((await v2Post(`${v2}/models/edge-houseprice/infer`, JSON.stringify({ inputs: [houseTensor([houseRef.rows[i]!])] }))).status, 200);
    assert.equal((await v2Post(`${v2}/models/edge-houseprice/versions/${versions.house}/infer`, JSON.stringify({ inputs: [houseTensor([houseRef.rows[0]!])] }))).status, 200);
    assert.equal((await v2Post(`${v2}/models/edge-houseprice/infer`, "{}")).status, 400);
    assert.equal(await count(200), ok + 4);
    assert.equal(await count(400), bad + 1);
  });
});

describe("V2 REST on a site without inferers", () => {
  let site: TestSite;
  before(async () => { site = await startTestSite({ manifests: [], logger: false }); });
  after(async () => { await site.stop(); });

  it("live 200; ready 400 {ready: false}; models are unknown", async () => {
    assert.deepEqual(await getJson(`${site.url}/v2/health/live`), { status: 200, body: { live: true } });
    assert.deepEqual(await getJson(`${site.url}/v2/health/ready`), { status: 400, body: { ready: false } });
    const model = await getJson(`${site.url}/v2/models/edge-houseprice`);
    assert.equal(model.status, 404);
    assert.equal(model.body.code, "unknown_model");
  });
});
