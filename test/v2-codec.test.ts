import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FerryError, decodeV2Request, decodeV2Response, encodeV2Request, encodeV2Response, v2ContentType, v2HeaderLength, type PipelineSignature, type RecordsView } from "@ferry/contracts";

// The V2 codec the inferers run (contracts/src/v2): what the end-to-end V2 tests cannot reach one case at a time.

const signature: PipelineSignature = {
  inputs: [{ name: "x", type: "float32", dims: [-1, 3] }, { name: "flag", type: "bool", dims: [-1, 1] }],
  outputs: [{ name: "score", type: "float32", dims: [-1, 2] }, { name: "table", type: "int64", dims: [4] }],
};

const json = (o: unknown): Uint8Array => Buffer.from(JSON.stringify(o));
const f32 = (values: number[]): Buffer => Buffer.from(new Float32Array(values).buffer);

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof FerryError, String(err));
    return err.code;
  }
  return assert.fail("expected a FerryError");
}

describe("V2 requests as the inferer reads them", () => {
  const x = [1.5, -2, 3.25, 4, 5, 6.5];
  it("JSON data and raw data (aligned or not) give the same columns, and rows read back as flat lists", () => {
    const fromJson = decodeV2Request(json({ inputs: [{ name: "x", datatype: "FP32", shape: [2, 3], data: [[1.5, -2, 3.25], [4, 5, 6.5]] }, { name: "flag", datatype: "BOOL", shape: [2, 1], data: [true, false] }] }), undefined, "p", signature);
    assert.deepEqual([...fromJson.table.column("x").values], x);
    assert.deepEqual([...fromJson.table.column("flag").values], [1, 0]);
    assert.equal(fromJson.table.column("flag").booleans, true);
    assert.deepEqual(fromJson.table.row(1), { x: [4, 5, 6.5], flag: [false] });
    assert.deepEqual([fromJson.table.rowSize(0), fromJson.table.cellSize("x", 0)], [4, 3]);
    for (const pad of [0, 1]) {
      const head = json({ inputs: [{ name: "x", datatype: "FP32", shape: [2, 3], parameters: { binary_data_size: 24 } }, { name: "flag", datatype: "BOOL", shape: [2, 1], parameters: { binary_data_size: 2 } }] });
      // A leading byte puts the raw FP32 data at an odd offset in the body's buffer: it is copied, not misread.
      const body = Buffer.concat([Buffer.alloc(pad), head, f32(x), Buffer.from([1, 0])]).subarray(pad);
      const raw = decodeV2Request(body, v2ContentType(head.byteLength), "p", signature);
      assert.deepEqual([...raw.table.column("x").values], x, `offset ${pad}`);
      assert.deepEqual(raw.table.row(0), fromJson.table.row(0));
      assert.deepEqual(raw.table.row(1), fromJson.table.row(1));
    }
  });

  it("refuses tensors that do not fit the signature, with bad_tensor; a broken body with bad_request or bad_json", () => {
    const ok = { name: "flag", datatype: "BOOL", shape: [1, 1], data: [true] };
    const decode = (o: unknown, contentType?: string): unknown => decodeV2Request(json(o), contentType, "p", signature);
    assert.equal(code(() => decode({ inputs: [{ name: "x", datatype: "FP64", shape: [1, 3], data: [1, 2, 3] }, ok] })), "bad_tensor");
    assert.equal(code(() => decode({ inputs: [{ name: "x", datatype: "FP32", shape: [1, 4], data: [1, 2, 3, 4] }, ok] })), "bad_tensor");
    assert.equal(code(() => decode({ inputs: [{ name: "x", datatype: "FP32", shape: [1, 3], data: [1, 2] }, ok] })), "bad_tensor");
    assert.equal(code(() => decode({ inputs: [{ name: "x", datatype: "FP32", shape: [1, 3], data: [1, "2", 3] }, ok] })), "bad_tensor");
    assert.equal(code(() => decode({ inputs: [{ name: "x", datatype: "FP32", shape: [1, 3], data: [1, 2, 3] }] })), "bad_tensor");
    assert.equal(code(() => decode({ inputs: [{ name: "x", datatype: "FP32", shape: [1, 3], data: [1, 2, 3] }, ok], outputs: [{ name: "nope" }] })), "bad_tensor");
    assert.equal(code(() => decode({ inputs: [{ name: "x", datatype: "FP32", shape: [2, 3], data: [1, 2, 3, 4, 5, 6] }, ok] })), "bad_tensor", "inputs differ in rows");
    assert.equal(code(() => decode({ inputs: [{ name: "x", datatype: "FP32", shape: [1, 3], data: [1, 2, 3] }, ok], outputs: Array.from({ length: 10_000 }, () => ({ name: "score" })) })), "bad_tensor", "one output asked for 10,000 times");
    assert.equal(code(() => decode({ inputs: [] })), "bad_request");
    assert.equal(code(() => decode({ inputs: [ok] }, `${v2ContentType()}; header-length=999`)), "bad_request");
    assert.equal(code(() => decodeV2Request(Buffer.from("{"), undefined, "p", signature)), "bad_json");
    const deep = `{"inputs":[{"name":"x","datatype":"FP32","shape":[1,3],"data":${"[".repeat(100_000)}1${"]".repeat(100_000)}},${JSON.stringify(ok)}]}`;
    assert.equal(code(() => decodeV2Request(Buffer.from(deep), undefined, "p", signature)), "bad_tensor", "data nested 100,000 deep");
    const nested = decodeV2Request(json({ inputs: [{ name: "x", datatype: "FP32", shape: [1, 3], data: [[[1], [2, [3]]]] }, ok] }), undefined, "p", signature);
    assert.deepEqual(nested.table.row(0), { x: [1, 2, 3], flag: [true] }, "nesting within the limit is flattened in row-major order");
    const half: PipelineSignature = { inputs: [{ name: "h", type: "float16", dims: [-1, 1] }], outputs: [] };
    assert.equal(code(() => decodeV2Request(json({ inputs: [{ name: "h", datatype: "FP16", shape: [1, 1], data: [1] }] }), undefined, "p", half)), "bad_tensor", "FP16 inputs are refused");
  });

  it("carries the request's id and chosen outputs; the header length rides in the content type", () => {
    const r = decodeV2Request(json({ id: "r-7", inputs: [{ name: "x", datatype: "FP32", shape: [1, 3], data: [1, 2, 3] }, { name: "flag", datatype: "BOOL", shape: [1, 1], data: [false] }], outputs: [{ name: "table", parameters: { binary_data: true } }], parameters: { binary_data_output: false } }), undefined, "p", signature);
    assert.deepEqual(r.reply, { id: "r-7", outputs: [{ index: 1, binary: true }] });
    assert.equal(v2HeaderLength(v2ContentType(123)), "123");
    assert.equal(v2HeaderLength(v2ContentType()), undefined);
  });
});

describe("V2 responses as the inferer writes them", () => {
  // A run of 3 rows, of which this request has rows 1 and 2.
  const view: RecordsView = {
    pipelineName: "p", modelName: "m", modelVersion: "mv", elapsed: [1, 2], time: 0, runRows: 3, rowStart: 1, rowCount: 2,
    outputs: [
      { name: "score", type: "float32", dims: [3, 2], data: new Float32Array([0, 0, 1.5, Number.NaN, 3, 4]) },
      { name: "table", type: "int64", dims: [4], data: new BigInt64Array([7n, 8n, 9n, 10n]) },
    ],
    originalData: () => null,
    checkFailures: (i) => (i === 0 ? [0] : []),
    shadows: [{ model: "shadow", outputs: [{ name: "s", type: "float32", dims: [3, 1], data: new Float32Array([5, 6, 7]) }] }, { model: "broken", error: "x" }],
  };

  it("joins a per-row output's rows, sends a whole-run output once, and writes parameters as JSON text", () => {
    const { json: text, raws } = encodeV2Response(view, signature.outputs, "pv", { id: "q", outputs: [{ index: 0, binary: false }, { index: 1, binary: false }] });
    assert.deepEqual(raws, []);
    const body = JSON.parse(text) as { model_name: string; model_version: string; id: string; parameters: Record<string, string>; outputs: { name: string; datatype: string; shape: number[]; data: unknown[] }[] };
    assert.deepEqual([body.model_name, body.model_version, body.id], ["p", "pv", "q"]);
    assert.deepEqual(body.outputs, [
      { name: "score", datatype: "FP32", shape: [2, 2], data: [1.5, null, 3, 4] },
      { name: "table", datatype: "INT64", shape: [4], data: [7, 8, 9, 10] },
    ]);
    assert.deepEqual(JSON.parse(body.parameters.check_failures!), [[0], []]);
    assert.deepEqual(JSON.parse(body.parameters.shadow_data!), [{ shadow: [{ Float: { data: [6], dim: [1, 1], v: 1 } }] }, { shadow: [{ Float: { data: [7], dim: [1, 1], v: 1 } }] }]);
    assert.deepEqual([body.parameters.step_model, body.parameters.step_model_version], ["m", "mv"]);
  });

  it("writes binary outputs after the JSON, which the gateway reads back for gRPC", () => {
    const { json: text, raws } = encodeV2Response(view, signature.outputs, "pv", { outputs: [{ index: 1, binary: true }, { index: 0, binary: true }] });
    const head = Buffer.from(text);
    const back = decodeV2Response(Buffer.concat([head, ...raws]), head.byteLength);
    assert.deepEqual(back.outputs.map((o) => [o.name, o.datatype, o.shape, o.raw?.byteLength]), [["table", "INT64", [4], 32], ["score", "FP32", [2, 2], 16]]);
    assert.deepEqual([...new BigInt64Array(Uint8Array.from(back.outputs[0]!.raw!).buffer)], [7n, 8n, 9n, 10n]);
    assert.deepEqual([...new Float32Array(Uint8Array.from(back.outputs[1]!.raw!).buffer)], [1.5, Number.NaN, 3, 4]);
    assert.equal(back.id, undefined);
  });

  it("a gRPC call written as a V2 body reads back as the same tensors", () => {
    const raw = f32([1, 2, 3]);
    const { body, jsonLength } = encodeV2Request({ id: "g", inputs: [{ name: "x", datatype: "FP32", shape: [1, 3], raw }, { name: "flag", datatype: "BOOL", shape: [1, 1], values: [true] }], binaryOutput: true });
    const r = decodeV2Request(body, v2ContentType(jsonLength), "p", signature);
    assert.deepEqual(r.table.row(0), { x: [1, 2, 3], flag: [true] });
    assert.deepEqual(r.reply, { id: "g", outputs: [{ index: 0, binary: true }, { index: 1, binary: true }] });
  });
});
