// Writes the demo Arrow IPC files from the generator's outputs (deterministic):
//   data/image_224x224.arrow   one row, column "tensor": the first reference image as a [3][224][224] nested list
//   data/houseprice.arrow      the 20 reference rows, column "tensor": fixed-size lists of 18 float64
// Run from the repo root after `npm ci`: node models/make-arrow-data.mjs
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Field, FixedSizeList, Float32, Float64, List, makeData, makeVector, Table, tableToIPC } from "apache-arrow";

const here = dirname(fileURLToPath(import.meta.url));

function nestedImage(values) {
  // List<List<List<Float32>>>: 1 row of 3 channels of 224 rows of 224 values
  const f = new Float32();
  const leaf = makeData({ type: f, length: values.length, data: values });
  const l1Type = new List(new Field("item", f, false));
  const l1 = makeData({ type: l1Type, length: 3 * 224, nullCount: 0, valueOffsets: Int32Array.from({ length: 3 * 224 + 1 }, (_, i) => i * 224), child: leaf });
  const l2Type = new List(new Field("item", l1Type, false));
  const l2 = makeData({ type: l2Type, length: 3, nullCount: 0, valueOffsets: Int32Array.from({ length: 4 }, (_, i) => i * 224), child: l1 });
  const l3Type = new List(new Field("item", l2Type, false));
  return makeData({ type: l3Type, length: 1, nullCount: 0, valueOffsets: Int32Array.from([0, 3]), child: l2 });
}

const raw = readFileSync(join(here, "data", "image_224x224_0.f32"));
const image = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
writeFileSync(join(here, "data", "image_224x224.arrow"), tableToIPC(new Table({ tensor: makeVector(nestedImage(image)) }), "file"));

const ref = JSON.parse(readFileSync(join(here, "house-price-reference.json"), "utf8"));
const flat = Float64Array.from(ref.rows.flat());
const f64 = new Float64();
const rows = makeData({
  type: new FixedSizeList(18, new Field("item", f64, false)), length: ref.rows.length, nullCount: 0,
  child: makeData({ type: f64, length: flat.length, data: flat }),
});
writeFileSync(join(here, "data", "houseprice.arrow"), tableToIPC(new Table({ tensor: makeVector(rows) }), "file"));
console.log("wrote models/data/image_224x224.arrow and models/data/houseprice.arrow");
