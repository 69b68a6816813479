import { DataType, RecordBatchReader, Table, type Data, type RecordBatch } from "apache-arrow";
import { FerryError, type ErrorCode } from "./errors.js";
import type { InputColumn, InputTable } from "./input-table.js";
import type { NumericArray } from "./tensor-types.js";

/** A column that could not be read as numbers: its values as text, for `original_data`. */
export interface TextColumn {
  readonly name: string;
  readonly text: readonly string[];
  readonly error: string;
  readonly code: ErrorCode;
}

/** An Arrow body decoded to plain, transferable data (so it can cross a worker boundary). */
export interface DecodedArrow {
  readonly rowCount: number;
  readonly columns: readonly (InputColumn | TextColumn)[];
}

/**
 * Decodes an Arrow IPC body (file or stream format): list, large-list and fixed-size-list columns
 * (nested too) of numbers are flattened row by row; plain numeric columns give one value per row.
 * Throws FerryError `bad_arrow` (400) when the bytes are not Arrow IPC.
 */
export function decodeArrowColumns(body: Uint8Array): DecodedArrow {
  let table: Table;
  try {
    table = readTable(body);
  } catch (err) {
    throw new FerryError("bad_arrow", `request body is not a readable Arrow IPC file or stream: ${(err as Error).message}`, { cause: err });
  }
  if (table.numCols === 0) throw new FerryError("bad_arrow", "Arrow table has no columns");
  if (table.numRows === 0) throw new FerryError("bad_arrow", "Arrow table has no rows");
  // arrow-js believes a record batch's length; a flipped bit there claims millions of rows that the
  // buffers do not hold, which the loops below would then walk (seconds, and memory per row).
  if (table.numRows > body.byteLength) throw new FerryError("bad_arrow", `Arrow table claims ${table.numRows} rows, more than its ${body.byteLength} bytes can hold`);
  const columns = table.schema.fields.map((f, i): InputColumn | TextColumn => {
    const vector = table.getChildAt(i)!;
    try {
      return flattenChunks(f.name, vector.data);
    } catch (err) {
      const error = err instanceof FerryError ? err.message : `column "${f.name}" cannot be read: ${(err as Error).message}`;
      const code: ErrorCode = err instanceof FerryError ? err.code : "bad_arrow";
      let text: string[] = [];
      try {
        text = Array.from({ length: table.numRows }, (_, r) => String(vector.get(r)));
      } catch {
        // unreadable even as text
      }
      return { name: f.name, text, error, code };
    }
  });
  return { rowCount: table.numRows, columns };
}

/** Decodes an Arrow IPC body into an InputTable (in this thread; see decodeArrowColumns). */
export function decodeArrow(body: Uint8Array): InputTable {
  return arrowTable(decodeArrowColumns(body));
}

/** The InputTable view of decoded Arrow columns. */
export function arrowTable(decoded: DecodedArrow): InputTable {
  return new ArrowTable(decoded);
}

/**
 * Reads an Arrow IPC file or stream. Files are read batch by batch through the footer's blocks:
 * arrow-js's own file iteration loops forever when a block points at a message that is not a record
 * batch (a bit-flipped file does this), so hostile input must end in an error instead.
 */
function readTable(body: Uint8Array): Table {
  const reader = RecordBatchReader.from(body);
  reader.open();
  if (!reader.isFile()) return new Table(reader.readAll());
  const batches: RecordBatch[] = [];
  for (let i = 0; i < reader.numRecordBatches; i++) {
    const batch = reader.readRecordBatch(i);
    if (!batch) throw new Error(`record batch ${i} is unreadable`);
    batches.push(batch);
  }
  return new Table(reader.schema, batches);
}

class ArrowTable implements InputTable {
  readonly rowCount: number;
  readonly columnNames: readonly string[];
  readonly #columns: ReadonlyMap<string, InputColumn | TextColumn>;

  constructor(decoded: DecodedArrow) {
    this.rowCount = decoded.rowCount;
    this.columnNames = decoded.columns.map((c) => c.name);
    this.#columns = new Map(decoded.columns.map((c) => [c.name, c]));
  }

  column(name: string): InputColumn {
    const column = this.#columns.get(name);
    if (!column) throw new FerryError("missing_input", `Arrow table has no column "${name}"`);
    if ("error" in column) throw new FerryError(column.code, column.error);
    return column;
  }

  row(i: number, columns?: readonly string[]): Record<string, unknown> {
    const row: Record<string, unknown> = {};
    const keep = columns && new Set(columns);
    for (const c of this.#columns.values()) {
      if (keep && !keep.has(c.name)) continue;
      row[c.name] = "error" in c ? c.text[i] ?? null : c.scalar ? Number(c.values[c.offsets[i]!]) : toPlain(c.values, c.offsets[i]!, c.offsets[i + 1]!);
    }
    return row;
  }

  rowSize(i: number): number {
    let size = 0;
    for (const name of this.columnNames) size += this.cellSize(name, i);
    return size;
  }

  cellSize(name: string, i: number): number {
    const c = this.#columns.get(name);
    return !c || "error" in c ? 1 : c.offsets[i + 1]! - c.offsets[i]!;
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
  return { name, values: values as NumericArray, offsets, ...(parts[0]!.scalar ? { scalar: true } : {}) };
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
      const leaf = leafColumn(name, node, starts, ends);
      return depth === 0 ? { ...leaf, scalar: true } : leaf;
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
