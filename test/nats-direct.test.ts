import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { headers } from "@nats-io/transport-node";
import { Headers, MediaTypes, Subjects, inferSubject, v2ContentType, v2HeaderLength, type InferenceRecord } from "@ferry/contracts";
import { houseRef, models } from "./helpers/paths.js";
import { ARROW_FILE, PANDAS, houseRecords, post, startTestSite, type TestSite } from "./helpers/site.js";

/** A record without the fields that differ between two runs of the same input. */
function stable(records: InferenceRecord[]): unknown[] {
  return records.map(({ time: _t, elapsed, ...rest }) => ({ ...rest, steps: elapsed.length }));
}

describe("devices can skip HTTP and use NATS directly", () => {
  let site: TestSite;
  before(async () => { site = await startTestSite(); });
  after(async () => { await site.stop(); });

  const request = async (subject: string, body: Uint8Array | string, contentType: string, accept?: string) => {
    const h = headers();
    h.set(Headers.contentType, contentType);
    if (accept) h.set(Headers.accept, accept);
    const msg = await site.client.request(subject, body, { timeout: 10_000, headers: h });
    return { status: Number(msg.headers?.get(Headers.status)), type: msg.headers?.get(Headers.contentType), data: msg.data, json: () => msg.json<unknown>() };
  };

  it("ferry.infer answers with the same reply as POST /infer", async () => {
    const body = houseRecords(houseRef.rows.slice(0, 5));
    const viaNats = await request(Subjects.infer, body, PANDAS);
    const viaHttp = await post(`${site.url}/infer`, body, { "Content-Type": PANDAS });
    assert.equal(viaNats.status, 200);
    assert.equal(viaNats.type, viaHttp.type);
    assert.deepEqual(stable(viaNats.json() as InferenceRecord[]), stable(viaHttp.json as InferenceRecord[]));
  });

  it("ferry.infer.<pipeline> takes Arrow bytes as they are", async () => {
    const image = readFileSync(join(models, "data", "image_224x224.arrow"));
    const viaNats = await request(inferSubject("edge-cv-demo"), image, ARROW_FILE);
    const viaHttp = await post(`${site.url}/pipelines/edge-cv-demo`, image, { "Content-Type": ARROW_FILE });
    assert.equal(viaNats.status, 200);
    assert.deepEqual(stable(viaNats.json() as InferenceRecord[]), stable(viaHttp.json as InferenceRecord[]));
  });

  it("ferry.infer.<pipeline> takes a V2 body (JSON, and the binary data extension) and answers what /v2/models/{name}/infer answers", async () => {
    const rows = houseRef.rows.slice(0, 3);
    const v2 = { id: "dev-1", inputs: [{ name: "tensor", datatype: "FP32", shape: [rows.length, 18], data: rows.flat() }] };
    const viaNats = await request(inferSubject("edge-houseprice"), JSON.stringify(v2), MediaTypes.v2Infer);
    const viaHttp = await post(`${site.url}/v2/models/edge-houseprice/infer`, JSON.stringify(v2), { "Content-Type": "application/json" });
    assert.equal(viaNats.status, 200);
    assert.equal(viaNats.type, "application/json");
    assert.deepEqual(viaNats.json(), viaHttp.json);
    // Binary: the JSON part's length rides in the content type; outputs come back raw the same way.
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: "tensor", datatype: "FP32", shape: [rows.length, 18], parameters: { binary_data_size: rows.length * 72 } }], parameters: { binary_data_output: true } }));
    const raw = Buffer.from(new Float32Array(rows.flat()).buffer);
    const binary = await request(inferSubject("edge-houseprice"), Buffer.concat([header, raw]), v2ContentType(header.byteLength));
    assert.equal(binary.status, 200);
    const jsonLength = Number(v2HeaderLength(binary.type));
    const head = JSON.parse(Buffer.from(binary.data.subarray(0, jsonLength)).toString()) as { outputs: { shape: number[]; parameters: { binary_data_size: number } }[] };
    assert.deepEqual(head.outputs[0]!.shape, [rows.length, 1]);
    const values = new Float32Array(Uint8Array.from(binary.data.subarray(jsonLength)).buffer);
    assert.deepEqual([...values], (viaHttp.json as { outputs: { data: number[] }[] }).outputs[0]!.data);
  });

  it("errors come back as Ferry-Status plus the same JSON error body", async () => {
    const viaNats = await request(Subjects.infer, "[{\"tensor\": [1]}]", PANDAS);
    const viaHttp = await post(`${site.url}/infer`, "[{\"tensor\": [1]}]", { "Content-Type": PANDAS });
    assert.equal(viaNats.status, 422);
    assert.equal(viaNats.status, viaHttp.status);
    assert.deepEqual(viaNats.json(), viaHttp.json);
  });
});
