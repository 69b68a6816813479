import { FerryError } from "./errors.js";
import type { InputColumn, InputTable } from "./input-table.js";

const decoder = new TextDecoder();

/**
 * Decodes a pandas-records body (`[{"tensor": [1.0, 2.0]}, …]`) into an InputTable.
 * Nested lists are flattened row by row (an image may come as `[3][224][224]`).
 * Throws FerryError `bad_json` or `bad_records` (400).
 */
export function decodePandasRecords(body: Uint8Array): InputTable {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(body));
  } catch (err) {
    throw new FerryError("bad_json", `request body is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!Array.isArray(parsed)) {
    throw new FerryError("bad_records", "pandas-records input must be a JSON array of row objects, e.g. [{\"tensor\": [1.0, 2.0]}]");
  }
  if (parsed.length === 0) throw new FerryError("bad_records", "pandas-records input has no rows");
  for (let i = 0; i < parsed.length; i++) {
    const row: unknown = parsed[i];
    if (typeof row !== "object" || row === null || Array.isArray(row)) {
      throw new FerryError("bad_records", `pandas-records row ${i} is not a JSON object`);
    }
  }
  if (deeperThan(parsed, MAX_DEPTH)) throw new FerryError("bad_records", `pandas-records input is nested deeper than ${MAX_DEPTH} levels`);
  return new RecordsTable(parsed as Record<string, unknown>[]);
}

/** Deepest nesting accepted anywhere in a body (a row echoed in `original_data` must stringify too). */
const MAX_DEPTH = 32;

/** Whether `value` nests arrays or objects deeper than `max` (iterative: the value may be hostile). */
function deeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== "object" || v === null) continue;
    if (depth >= max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === "object" && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}

class RecordsTable implements InputTable {
  readonly rowCount: number;
  readonly columnNames: readonly string[];
  readonly #rows: Record<string, unknown>[];
  readonly #columns = new Map<string, InputColumn>();

  constructor(rows: Record<string, unknown>[]) {
    this.#rows = rows;
    this.rowCount = rows.length;
    this.columnNames = Object.keys(rows[0]!);
  }

  column(name: string): InputColumn {
    let column = this.#columns.get(name);
    if (!column) {
      column = flattenColumn(this.#rows, name);
      this.#columns.set(name, column);
    }
    return column;
  }

  row(i: number, columns?: readonly string[]): Record<string, unknown> {
    const row = this.#rows[i]!;
    if (!columns) return row;
    const keep = new Set(columns);
    return Object.fromEntries(Object.entries(row).filter(([name]) => keep.has(name)));
  }

  rowSize(i: number): number {
    let size = 0;
    for (const value of Object.values(this.#rows[i]!)) size += countScalars(value, 0);
    return size;
  }

  cellSize(name: string, i: number): number {
    return countScalars(this.#rows[i]![name], 0);
  }
}

function flattenColumn(rows: Record<string, unknown>[], name: string): InputColumn {
  const values: number[] = [];
  const offsets = new Int32Array(rows.length + 1);
  const seen = { booleans: false };
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    if (!Object.hasOwn(row, name)) {
      throw new FerryError("missing_input", `row ${i} has no column "${name}"`);
    }
    const value = row[name];
    // The hot path (one finite number per row) costs a type and a finiteness check; the rest recurses.
    if (typeof value === "number" && Number.isFinite(value)) values.push(value);
    else pushFlat(value, values, { name, row: i, seen }, 0);
    offsets[i + 1] = values.length;
  }
  return seen.booleans ? { name, values, offsets, booleans: true } : { name, values, offsets };
}

/** Where a value is, for errors, and whether the column held true/false (only a bool input takes them). */
interface Cell { readonly name: string; readonly row: number; readonly seen: { booleans: boolean } }

function pushFlat(value: unknown, out: number[], at: Cell, depth: number): void {
  if (typeof value === "number" && Number.isFinite(value)) {
    out.push(value);
  } else if (Array.isArray(value)) {
    if (depth >= MAX_DEPTH) throw new FerryError("bad_input_type", `column "${at.name}" row ${at.row}: lists nested deeper than ${MAX_DEPTH}`);
    for (const item of value) pushFlat(item, out, at, depth + 1);
  } else if (typeof value === "boolean") {
    at.seen.booleans = true;
    out.push(value ? 1 : 0);
  } else {
    throw new FerryError("bad_input_type", `column "${at.name}" row ${at.row}: expected numbers or lists of numbers, got ${describeValue(value)}`);
  }
}

/** What a non-number is, in words. JSON has no NaN or Infinity: a number beyond float64 (1e400) parses as ±Infinity. */
function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "number") return `a number beyond float64's range (it reads as ${value})`;
  return typeof value;
}

function countScalars(value: unknown, depth: number): number {
  if (!Array.isArray(value) || depth > MAX_DEPTH) return 1;
  let n = 0;
  for (const item of value) n += countScalars(item, depth + 1);
  return n;
}
