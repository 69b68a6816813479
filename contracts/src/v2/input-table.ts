import type { InputColumn, InputTable } from "../input-table.js";
import type { NumericArray } from "../tensor-types.js";
import { ElementBytes, type V2Datatype } from "./datatypes.js";
import type { BoundInput } from "./tensors.js";

type RawDatatype = Exclude<V2Datatype, "BYTES" | "FP16" | "BOOL">;

const typedArrays: Readonly<Record<RawDatatype, new (buffer: ArrayBufferLike, offset: number, length: number) => Exclude<NumericArray, number[]>>> = {
  UINT8: Uint8Array, UINT16: Uint16Array, UINT32: Uint32Array, UINT64: BigUint64Array,
  INT8: Int8Array, INT16: Int16Array, INT32: Int32Array, INT64: BigInt64Array, FP32: Float32Array, FP64: Float64Array,
};

/**
 * V2 input tensors (checked by bindInputs) as the rows of a request, the way a pandas-records or Arrow
 * body reads: one column per input named for the pipeline's column, `width` values a row. Raw data
 * (the binary extension) is read in place as a typed array (copied only when unaligned), so an image
 * is never turned into numbers one by one. A row reads back as a flat list, as the records the gateway
 * used to write for V2 requests did, so the log record is the same.
 */
export class V2Table implements InputTable {
  readonly rowCount: number;
  readonly columnNames: readonly string[];
  readonly #inputs: ReadonlyMap<string, BoundInput>;
  readonly #columns = new Map<string, InputColumn>();

  constructor(inputs: readonly BoundInput[]) {
    this.rowCount = inputs[0]?.rows ?? 0;
    this.columnNames = inputs.map((b) => b.column);
    this.#inputs = new Map(inputs.map((b) => [b.column, b]));
  }

  column(name: string): InputColumn {
    let column = this.#columns.get(name);
    if (!column) this.#columns.set(name, (column = columnOf(this.#input(name))));
    return column;
  }

  row(i: number, columns?: readonly string[]): Record<string, unknown> {
    const row: Record<string, unknown> = {};
    for (const name of columns ?? this.columnNames) {
      const b = this.#input(name);
      const values = this.column(name).values;
      const cells: unknown[] = new Array(b.width);
      for (let k = 0; k < b.width; k++) {
        const v = values[i * b.width + k]!;
        cells[k] = b.datatype === "BOOL" ? v !== 0 : typeof v === "bigint" ? Number(v) : v;
      }
      row[name] = cells;
    }
    return row;
  }

  rowSize(_i: number): number {
    let size = 0;
    for (const b of this.#inputs.values()) size += b.width;
    return size;
  }

  cellSize(name: string, _i: number): number {
    return this.#input(name).width;
  }

  #input(name: string): BoundInput {
    const b = this.#inputs.get(name);
    if (!b) throw new Error(`no input column ${JSON.stringify(name)}`);
    return b;
  }
}

function columnOf(b: BoundInput): InputColumn {
  const offsets = new Int32Array(b.rows + 1);
  for (let r = 1; r <= b.rows; r++) offsets[r] = r * b.width;
  const bool = b.datatype === "BOOL";
  return { name: b.column, values: valuesOf(b), offsets, ...(bool ? { booleans: true } : {}) };
}

/** The input's elements as numbers (JSON data; BOOL as 1/0) or a typed array over its raw bytes. */
function valuesOf(b: BoundInput): NumericArray {
  const raw = b.input.raw;
  if (!raw) {
    const values = b.input.values as readonly unknown[] | NumericArray;
    return b.datatype === "BOOL" ? Array.from(values as ArrayLike<unknown>, (v) => (v ? 1 : 0)) : (values as NumericArray);
  }
  if (b.datatype === "BOOL") return Array.from(raw, (v) => (v !== 0 ? 1 : 0));
  const datatype = b.datatype as RawDatatype;
  const size = ElementBytes[datatype];
  // A copy into a fresh buffer when unaligned: `new Uint8Array(raw)` (a Node Buffer's slice is a view at the same offset).
  const aligned = raw.byteOffset % size === 0 ? raw : new Uint8Array(raw);
  return new typedArrays[datatype](aligned.buffer, aligned.byteOffset, raw.byteLength / size);
}
