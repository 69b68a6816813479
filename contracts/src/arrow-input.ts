import { DataType, tableFromIPC, type Data, type Table } from "apache-arrow";
import { FerryError } from "./errors.js";
import type { InputColumn, InputTable } from "./input-table.js";
import type { NumericArray } from "./tensor-types.js";

/**
 * Decodes an Arrow IPC body (file or stream format) into an InputTable. List, large-list and
 * fixed-size-list columns (nested too) of numbers are flattened row by row; plain numeric columns
 * give one value per row. Throws FerryError `bad_arrow` (400) when the bytes are not Arrow IPC.
 */
export function decodeArrow(body: Uint8Array): InputTable {
  let table: Table;
  try {
    table = tableFromIPC(body);
  } catch (err) {
    throw new FerryError("bad_arrow", `request body is not a readable Arrow IPC file or stream: ${(err as Error).message}`, { cause: err });
  }
  if (table.numCols === 0) throw new FerryError("bad_arrow", "Arrow table has no columns");
  if (table.numRows === 0) throw new FerryError("bad_arrow", "Arrow table has no rows");
  return new ArrowTable(table);
}

class ArrowTable implements InputTable {
  readonly rowCount: number;
  readonly columnNames: readonly string[];
  readonly #table: Table;
  readonly #columns = new Map<string, InputColumn>();

  constructor(table: Table) {
    this.#table = table;
    this.rowCount = table.numRows;
    this.columnNames = table.schema.fields.map((f) => f.name);
  }

  column(name: string): InputColumn {
    let column = this.#columns.get(name);
    if (!column) {
      const vector = this.#table.getChild(name);
      if (!vector) throw new FerryError("missing_input", `Arrow table has no column "${name}"`);
      column = flattenChunks(name, vector.data);
      this.#columns.set(name, column);
    }
    return column;
  }

  row(i: number): Record<string, unknown> {
    const row: Record<string, unknown> = {};
    for (const name of this.columnNames) {
      try {
        const c = this.column(name);
        row[name] = toPlain(c.values, c.offsets[i]!, c.offsets[i + 1]!);
      } catch {
        row[name] = String(this.#table.getChild(name)?.get(i));
      }
    }
    return row;
  }

  rowSize(i: number): number {
    let size = 0;
    for (const name of this.columnNames) {
      try {
        const c = this.column(name);
        size += c.offsets[i + 1]! - c.offsets[i]!;
      } catch {
        size += 1;
      }
    }
    return size;
  }
}

function toPlain(values: NumericArray, start: number, end: number): number[] {
  const out = new Array<number>(end - start);
  for (let i = start; i < end; i++) out[i - start] = Number(values[i]);
  return out;
}

function flattenChunks(name: string, chunks: readonly Data[]): InputColumn {
  const parts = chunks.map((d) => flattenData(name, d));
  if (parts.length === 1) return parts[0]!;
  const rows = parts.reduce((n, p) => n + p.offsets.length - 1, 0);
  const size = parts.reduce((n, p) => n + p.values.length, 0);
  const first = parts[0]!.values;
  const values = Array.isArray(first) ? new Array<number>(size) : new (first.constructor as new (n: number) => Exclude<NumericArray, number[]>)(size);
  const offsets = new Int32Array(rows + 1);
  let row = 0;
  let at = 0;
  for (const p of parts) {
    for (let i = 0; i < p.values.length; i++) (values as number[])[at + i] = p.values[i] as number;
    for (let i = 1; i < p.offsets.length; i++) offsets[++row] = at + p.offsets[i]!;
    at += p.values.length;
  }
  return { name, values: values as NumericArray, offsets };
}

/** Walks down list levels, mapping each row's [start, end) to leaf value positions. */
function flattenData(name: string, data: Data): InputColumn {
  const rows = data.length;
  const starts = new Float64Array(rows);
  const ends = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    starts[i] = data.offset + i;
    ends[i] = data.offset + i + 1;
  }
  let node: Data = data;
  for (let depth = 0; ; depth++) {
    if (node.nullCount > 0) throw new FerryError("bad_input_type", `column "${name}" has null values`);
    const type: DataType = node.type;
    if (DataType.isList(type) || DataType.isLargeList(type)) {
      const offsets = node.valueOffsets as Int32Array | BigInt64Array;
      for (let i = 0; i < rows; i++) {
        starts[i] = Number(offsets[starts[i]!]);
        ends[i] = Number(offsets[ends[i]!]);
      }
    } else if (DataType.isFixedSizeList(type)) {
      const size = type.listSize;
      for (let i = 0; i < rows; i++) {
        starts[i] = starts[i]! * size;
        ends[i] = ends[i]! * size;
      }
    } else {
      return leafColumn(name, node, starts, ends);
    }
    const child = node.children[0];
    if (!child || depth > 32) throw new FerryError("bad_input_type", `column "${name}" has an unsupported list layout`);
    if (child.offset !== 0) {
      for (let i = 0; i < rows; i++) {
        starts[i] = starts[i]! + child.offset;
        ends[i] = ends[i]! + child.offset;
      }
    }
    node = child;
  }
}

function leafColumn(name: string, leaf: Data, starts: Float64Array, ends: Float64Array): InputColumn {
  const rows = starts.length;
  const type: DataType = leaf.type;
  let all: NumericArray;
  if (DataType.isFloat(type) && type.precision !== 0) all = leaf.values as Float32Array | Float64Array;
  else if (DataType.isInt(type)) all = leaf.values as Exclude<NumericArray, number[]>;
  else if (DataType.isBool(type)) all = unpackBits(leaf.values as Uint8Array, leaf.offset + leaf.length);
  else throw new FerryError("bad_input_type", `column "${name}" holds ${String(type)}, not numbers`);
  const first = rows > 0 ? starts[0]! : 0;
  const last = rows > 0 ? ends[rows - 1]! : 0;
  const offsets = new Int32Array(rows + 1);
  let contiguous = true;
  for (let i = 0; i < rows; i++) {
    offsets[i + 1] = ends[i]! - first;
    if (i > 0 && starts[i] !== ends[i - 1]) contiguous = false;
  }
  if (first < 0 || last > all.length || last < first) throw new FerryError("bad_arrow", `column "${name}": offsets out of range`);
  if (contiguous) return { name, values: all.subarray(first, last) as NumericArray, offsets };
  return gather(name, all, starts, ends);
}

function gather(name: string, all: NumericArray, starts: Float64Array, ends: Float64Array): InputColumn {
  const offsets = new Int32Array(starts.length + 1);
  const out: number[] = [];
  for (let i = 0; i < starts.length; i++) {
    for (let j = starts[i]!; j < ends[i]!; j++) out.push(Number(all[j]));
    offsets[i + 1] = out.length;
  }
  return { name, values: out, offsets };
}

function unpackBits(bits: Uint8Array, count: number): Uint8Array {
  const out = new Uint8Array(count);
  for (let i = 0; i < count; i++) out[i] = (bits[i >> 3]! >> (i & 7)) & 1;
  return out;
}
