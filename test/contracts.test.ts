import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  Field, FixedSizeList, Float32, Float64, Int64, LargeList, List, Table, tableFromIPC, tableToIPC, vectorFromArray,
} from "apache-arrow";
import { FerryError, checkRequestBody, decodeArrow, hasArrowMagic, decodeEnvelope, decodePandasRecords, encodeEnvelope, envelopePartSize, encodeRecordsArrow, encodeRecordsJson, inputFormatOf, outputFormatOf, parseManifest, type EnvelopePart, type RecordsView } from "@ferry/contracts";
import { houseRef, models } from "./helpers/paths.js";

const enc = new TextEncoder();
const rows = houseRef.rows.slice(0, 3);

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof FerryError, `expected FerryError, got ${String(err)}`);
    return err.code;
  }
  assert.fail("expected an error");
}

describe("batch envelope", () => {
  it("round-trips parts with headers and bodies, including empty ones", () => {
    const parts: EnvelopePart[] = [
      { headers: { "Content-Type": "application/json" }, body: enc.encode("[1]") },
      { headers: {}, body: new Uint8Array(0) },
      { headers: { Accept: "x" }, body: new Uint8Array([0, 255, 7]) },
    ];
    const back = decodeEnvelope(encodeEnvelope(parts), 3);
    assert.deepEqual(back.map((p) => p.headers), parts.map((p) => p.headers));
    assert.deepEqual(back.map((p) => [...p.body]), parts.map((p) => [...p.body]));
  });
  it("frames non-ASCII header values (2-, 3- and 4-byte UTF-8, lone surrogates) at their encoded size", () => {
    const values = ["é", "ß→", "東京", "🚚 truck", "a\ud800b", "\udc00", "end\ud83d", "x".repeat(300)];
    const parts: EnvelopePart[] = values.map((v, i) => ({ headers: { "Ferry-Request-Id": v }, body: enc.encode(`body ${i}`) }));
    const bytes = encodeEnvelope(parts);
    const expected = parts.reduce((n, p) => n + envelopePartSize(p.headers, p.body.length), 0);
    assert.equal(bytes.length, expected, "envelopePartSize counts what encodeEnvelope writes");
    assert.equal(expected, parts.reduce((n, p) => n + 8 + enc.encode(JSON.stringify(p.headers)).length + p.body.length, 0), "sizes are TextEncoder's");
    const back = decodeEnvelope(bytes, parts.length);
    assert.deepEqual(back.map((p) => p.headers), parts.map((p) => JSON.parse(JSON.stringify(p.headers)) as Record<string, string>));
    assert.deepEqual(back.map((p) => new TextDecoder().decode(p.body)), values.map((_v, i) => `body ${i}`));
  });
  it("rejects truncated frames and a wrong part count", () => {
    const bytes = encodeEnvelope([{ headers: {}, body: enc.encode("hello") }]);
    assert.throws(() => decodeEnvelope(bytes.subarray(0, bytes.length - 1)), RangeError);
    assert.throws(() => decodeEnvelope(bytes, 2), RangeError);
  });
});

describe("content negotiation", () => {
  it("reads the spec's content types, including its doubled header", () => {
    assert.equal(inputFormatOf("application/vnd.apache.arrow.file"), "arrow");
    assert.equal(inputFormatOf("application/vnd.apache.arrow.stream"), "arrow");
    assert.equal(inputFormatOf("application/json; format=pandas-records"), "pandas-records");
    assert.equal(inputFormatOf("Content-Type: application/json; format=pandas-records"), "pandas-records");
    assert.equal(inputFormatOf("text/csv"), undefined);
    assert.equal(inputFormatOf(undefined), undefined);
  });
  it("picks the first producible Accept entry", () => {
    assert.equal(outputFormatOf(undefined), "pandas-records");
    assert.equal(outputFormatOf("*/*"), "pandas-records");
    assert.equal(outputFormatOf("text/html, application/vnd.apache.arrow.file"), "arrow-file");
    assert.equal(outputFormatOf("application/json; format=pandas-records"), "pandas-records");
    assert.equal(outputFormatOf("text/html"), undefined);
  });
});

describe("pandas-records input", () => {
  it("flattens list and nested-list columns row by row", () => {
    const t = decodePandasRecords(enc.encode(JSON.stringify([{ a: [[1, 2], [3, 4]], b: 5 }, { a: [[6, 7], [8, 9]], b: 10 }])));
    assert.equal(t.rowCount, 2);
    assert.deepEqual(t.columnNames, ["a", "b"]);
    assert.deepEqual([...t.column("a").values], [1, 2, 3, 4, 6, 7, 8, 9]);
    assert.deepEqual([...t.column("a").offsets], [0, 4, 8]);
    assert.deepEqual([...t.column("b").values], [5, 10]);
    assert.equal(t.rowSize(0), 5);
  });
  it("refuses what is not an array of objects, with 400 codes", () => {
    assert.equal(code(() => decodePandasRecords(enc.encode("{not json"))), "bad_json");
    assert.equal(code(() => decodePandasRecords(enc.encode("{\"tensor\": [1]}"))), "bad_records");
    assert.equal(code(() => decodePandasRecords(enc.encode("[1, 2]"))), "bad_records");
    assert.equal(code(() => decodePandasRecords(enc.encode("[]"))), "bad_records");
  });
  it("names the column and row of a missing or non-numeric value", () => {
    const t = decodePandasRecords(enc.encode(JSON.stringify([{ a: [1] }, { b: [2] }, { a: ["x"] }])));
    assert.equal(code(() => t.column("a")), "missing_input");
    const u = decodePandasRecords(enc.encode(JSON.stringify([{ a: ["x"] }])));
    assert.equal(code(() => u.column("a")), "bad_input_type");
  });
  it("refuses null and numbers beyond float64 (1e400 parses as Infinity) with 422 bad_input_type; marks true/false", () => {
    for (const cell of ["null", "[1, null]", "1e400", "[-1e400]", "\"1\"", "{}"]) {
      const t = decodePandasRecords(enc.encode(`[{"a": [2]}, {"a": ${cell}}]`));
      assert.throws(() => t.column("a"), (err: FerryError) => err.code === "bad_input_type" && /column "a" row 1/.test(err.message), cell);
    }
    assert.throws(() => decodePandasRecords(enc.encode("[{\"a\": 1e400}]")).column("a"), /beyond float64's range \(it reads as Infinity\)/);
    assert.equal(decodePandasRecords(enc.encode("[{\"a\": [true, false]}]")).column("a").booleans, true);
    assert.equal(decodePandasRecords(enc.encode("[{\"a\": [1, 0]}]")).column("a").booleans, undefined);
  });
});

describe("request body checks before decoding", () => {
  it("an empty body is empty_body; Arrow must start with ARROW1 (file) or 0xFFFFFFFF (stream)", () => {
    const table = new Table({ a: vectorFromArray([1, 2]) });
    assert.equal(hasArrowMagic(tableToIPC(table, "file")), true);
    assert.equal(hasArrowMagic(tableToIPC(table, "stream")), true);
    assert.equal(hasArrowMagic(enc.encode("[{\"a\": 1}]")), false);
    assert.equal(hasArrowMagic(enc.encode("ARROW")), false);
    assert.equal(code(() => checkRequestBody("arrow", new Uint8Array(0))), "empty_body");
    assert.equal(code(() => checkRequestBody("pandas-records", new Uint8Array(0))), "empty_body");
    assert.equal(code(() => checkRequestBody("arrow", enc.encode("hello"))), "bad_arrow");
    assert.throws(() => checkRequestBody("arrow", enc.encode("hello")), /not an Arrow IPC file \(bad magic\)/);
    checkRequestBody("pandas-records", enc.encode("hello"));
  });
});

describe("Arrow input", () => {
  const flat = rows.flat();
  const cases: [string, Table, "file" | "stream"][] = [
    ["fixed-size-list<float32>", new Table({ tensor: vectorFromArray(rows, new FixedSizeList(18, new Field("item", new Float32()))) }), "file"],
    ["list<float64>", new Table({ tensor: vectorFromArray(rows, new List(new Field("item", new Float64()))) }), "stream"],
    ["large-list<float64>", new Table({ tensor: vectorFromArray(rows, new LargeList(new Field("item", new Float64()))) }), "file"],
  ];
  for (const [name, table, format] of cases) {
    it(`reads ${name} columns (${format} format)`, () => {
      const t = decodeArrow(tableToIPC(table, format));
      const c = t.column("tensor");
      assert.equal(t.rowCount, 3);
      assert.deepEqual([...c.offsets], [0, 18, 36, 54]);
      assert.deepEqual([...c.values].map((x) => Math.fround(Number(x))), flat.map((x) => Math.fround(x)));
    });
  }
  it("reads plain scalar and int64 columns", () => {
    const t = decodeArrow(tableToIPC(new Table({ x: vectorFromArray([1.5, 2.5]), n: vectorFromArray([3n, 4n], new Int64()) })));
    assert.deepEqual([...t.column("x").values], [1.5, 2.5]);
    assert.deepEqual([...t.column("n").values], [3n, 4n]);
    assert.deepEqual(t.row(1), { x: 2.5, n: 4 }, "a plain column shows plain values, as pandas would");
  });
  it("reads a [3][224][224] nested image", () => {
    const t = decodeArrow(new Uint8Array(readFileSync(join(models, "data", "image_224x224.arrow"))));
    const c = t.column("tensor");
    assert.equal(c.offsets[1], 3 * 224 * 224);
    const pixels = new Float32Array(readFileSync(join(models, "data", "image_224x224_0.f32")).buffer.slice(0));
    assert.equal(c.values[12345], pixels[12345]);
  });
  it("refuses corrupt and truncated Arrow with bad_arrow", () => {
    const good = tableToIPC(new Table({ x: vectorFromArray([1, 2, 3]) }), "file");
    assert.equal(code(() => decodeArrow(enc.encode("definitely not arrow"))), "bad_arrow");
    assert.equal(code(() => decodeArrow(good.subarray(0, good.length / 2))), "bad_arrow");
  });
});

describe("records output", () => {
  const view: RecordsView = {
    pipelineName: "p", modelName: "m", modelVersion: "v", elapsed: [1, 2], time: 1694205578428,
    outputs: [
      { name: "classification", type: "int64", dims: [2], data: BigInt64Array.from([535n, 7n]) },
      { name: "probabilities", type: "float32", dims: [2, 2], data: Float32Array.from([0.25, 0.75, 0.5, 0.5]) },
    ],
    runRows: 2, rowStart: 1, rowCount: 1, originalData: () => null,
  };
  it("writes the spec's record fields, per row, keyed by tensor type", () => {
    const records = JSON.parse(encodeRecordsJson(view)) as unknown[];
    assert.deepEqual(records, [{
      check_failures: [], elapsed: [1, 2], model_name: "m", model_version: "v", original_data: null,
      outputs: [{ Int64: { data: [7], dim: [1], v: 1 } }, { Float: { data: [0.5, 0.5], dim: [1, 2], v: 1 } }],
      pipeline_name: "p", shadow_data: {}, time: 1694205578428,
    }]);
  });
  it("writes the same as an Arrow table", () => {
    const t = tableFromIPC(encodeRecordsArrow(view));
    assert.equal(t.numRows, 1);
    assert.equal(t.getChild("pipeline_name")?.get(0), "p");
    assert.deepEqual([...(t.getChild("out.probabilities")?.get(0) as Iterable<number>)], [0.5, 0.5]);
    assert.deepEqual([...(t.getChild("out.classification")?.get(0) as Iterable<bigint>)], [7n]);
    assert.equal(t.getChild("time")?.get(0), 1694205578428n);
  });
});

describe("deployment manifest", () => {
  it("accepts the demo manifests and names what is wrong in a bad one", () => {
    parseManifest(JSON.parse(readFileSync(join(models, "manifests", "houseprice.json"), "utf8")));
    assert.throws(() => parseManifest({ pipeline: "a.b", pipeline_version: "nope", steps: [] }), /pipeline_version|steps|pipeline/);
  });
});
