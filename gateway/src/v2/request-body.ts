import {
  Bool, Field, FixedSizeList, Float32, Float64, Int16, Int32, Int64, Int8, Table, Uint16, Uint32, Uint64, Uint8,
  makeData, makeVector, tableToIPC, type DataType,
} from "apache-arrow";
import { MediaTypes, type InputFormat } from "@ferry/contracts";
import { ElementBytes, valuesFromRaw, type V2Datatype } from "./datatypes.js";
import type { BoundInput } from "./tensors.js";

/** A Wallaroo request body built from V2 tensors: what the gateway sends the inferers. */
export interface WallarooBody {
  body: Uint8Array;
  contentType: string;
  format: InputFormat;
}

/** JSON tensors above this many elements go as Arrow too: the inferer then reads typed values, not text again. */
const LARGE_JSON_TENSOR = 4096;

/**
 * The same request as Wallaroo's API takes it, so that it travels the same path and leaves the same log
 * record: pandas-records JSON when every input came as a few values, else an Arrow file whose columns hold
 * the raw bytes (an image is copied once, never turned into text) or the values typed.
 */
export function wallarooBody(inputs: readonly BoundInput[]): WallarooBody {
  if (inputs.some((b) => b.datatype !== "BYTES" && (b.input.raw || b.rows * b.width > LARGE_JSON_TENSOR))) {
    return { body: arrowFile(inputs), contentType: MediaTypes.arrowFile, format: "arrow" };
  }
  return { body: Buffer.from(pandasRecords(inputs)), contentType: MediaTypes.pandasRecords, format: "pandas-records" };
}

/** `[{"<input>": [row values], ...}, ...]`, one record per row of the batch. */
function pandasRecords(inputs: readonly BoundInput[]): string {
  const values = inputs.map((b) => b.input.raw ? valuesFromRaw(b.column, b.datatype, b.input.raw, b.rows * b.width) : b.input.values!);
  const keys = inputs.map((b) => `${JSON.stringify(b.column)}:[`);
  const rows = inputs[0]?.rows ?? 0;
  const parts: string[] = [];
  for (let r = 0; r < rows; r++) {
    let rec = "{";
    for (let k = 0; k < inputs.length; k++) {
      const w = inputs[k]!.width;
      const v = values[k]!;
      rec += (k > 0 ? "," : "") + keys[k] + cellsJson(v, r * w, (r + 1) * w) + "]";
    }
    parts.push(rec + "}");
  }
  return `[${parts.join(",")}]`;
}

/** Values [from, to) as JSON list items: numbers and booleans print as JSON already (checked finite by JSON.parse or the raw reader). */
function cellsJson(values: ArrayLike<unknown>, from: number, to: number): string {
  const part = Array.prototype.slice.call(values, from, to) as unknown[];
  return typeof part[0] === "string" ? part.map((x) => JSON.stringify(x)).join(",") : part.join(",");
}

const arrowTypes: Readonly<Record<Exclude<V2Datatype, "BYTES" | "FP16">, () => DataType>> = {
  BOOL: () => new Bool(), UINT8: () => new Uint8(), UINT16: () => new Uint16(), UINT32: () => new Uint32(), UINT64: () => new Uint64(),
  INT8: () => new Int8(), INT16: () => new Int16(), INT32: () => new Int32(), INT64: () => new Int64(),
  FP32: () => new Float32(), FP64: () => new Float64(),
};

const typedArrays = {
  UINT8: Uint8Array, UINT16: Uint16Array, UINT32: Uint32Array, UINT64: BigUint64Array,
  INT8: Int8Array, INT16: Int16Array, INT32: Int32Array, INT64: BigInt64Array, FP32: Float32Array, FP64: Float64Array,
} as const;

/** An Arrow file with one fixed-size-list column per input. */
function arrowFile(inputs: readonly BoundInput[]): Uint8Array {
  const columns: Record<string, ReturnType<typeof makeVector>> = {};
  for (const b of inputs) {
    const datatype = b.datatype as Exclude<V2Datatype, "BYTES" | "FP16">;
    const type = arrowTypes[datatype]();
    const child = makeData({ type, length: b.rows * b.width, data: leafData(b, datatype) } as never);
    const list = new FixedSizeList(b.width, new Field("item", type, false));
    columns[b.column] = makeVector(makeData({ type: list, length: b.rows, nullCount: 0, child }));
  }
  return tableToIPC(new Table(columns), "file");
}

/** The input's elements as Arrow wants them: a typed array over the raw bytes (copied only when unaligned), or bit-packed booleans. */
function leafData(b: BoundInput, datatype: Exclude<V2Datatype, "BYTES" | "FP16">): ArrayBufferView {
  const count = b.rows * b.width;
  if (datatype === "BOOL") {
    const bytes = b.input.raw ?? Uint8Array.from(b.input.values as readonly boolean[], (v) => (v ? 1 : 0));
    const bits = new Uint8Array(Math.ceil(count / 8));
    for (let i = 0; i < count; i++) if (bytes[i]) bits[i >> 3]! |= 1 << (i & 7);
    return bits;
  }
  const raw = b.input.raw;
  if (!raw) return fromValues(datatype, b.input.values as readonly number[]);
  const size = ElementBytes[datatype];
  // A copy into a fresh buffer when unaligned: `new Uint8Array(raw)`, since a Node Buffer's slice() is a view at the same offset.
  const aligned = raw.byteOffset % size === 0 ? raw : new Uint8Array(raw);
  const Ctor = typedArrays[datatype] as unknown as new (buffer: ArrayBufferLike, offset: number, length: number) => ArrayBufferView;
  return new Ctor(aligned.buffer, aligned.byteOffset, count);
}

function fromValues(datatype: keyof typeof typedArrays, values: readonly number[]): ArrayBufferView {
  if (datatype === "INT64") return BigInt64Array.from(values, (v) => BigInt(v));
  if (datatype === "UINT64") return BigUint64Array.from(values, (v) => BigInt(v));
  return (typedArrays[datatype] as Float64ArrayConstructor).from(values);
}
