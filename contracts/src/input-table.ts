import type { NumericArray } from "./tensor-types.js";

/** One request column, flattened: the values of row `i` are `values[offsets[i] .. offsets[i+1])`. */
export interface InputColumn {
  readonly name: string;
  readonly values: NumericArray;
  /** Row boundaries into `values`, `rowCount + 1` entries. */
  readonly offsets: Int32Array;
  /** One plain value per row (an Arrow column of numbers, not of lists): shown as a number, not a list. */
  readonly scalar?: boolean;
  /** Some value was JSON `true`/`false` (read as 1/0): only a bool input takes those. */
  readonly booleans?: boolean;
}

/** A decoded request: rows of named columns, read lazily so that unused columns cost nothing. */
export interface InputTable {
  readonly rowCount: number;
  readonly columnNames: readonly string[];
  /** The named column flattened to numbers; throws a FerryError (422) when it cannot be. */
  column(name: string): InputColumn;
  /** Row `i` as a plain object (for `original_data` and log records): every column, or only `columns`. */
  row(i: number, columns?: readonly string[]): Record<string, unknown>;
  /** How many scalar values row `i` holds over all its columns (to decide when a row is too large to echo). */
  rowSize(i: number): number;
  /** How many scalar values column `name` holds in row `i` (without building the row). */
  cellSize(name: string, i: number): number;
}

/** Whether every row of `column` holds exactly `width` values. */
export function hasRowWidth(column: InputColumn, width: number): boolean {
  const o = column.offsets;
  if (o[o.length - 1]! - o[0]! !== width * (o.length - 1)) return false;
  for (let i = 1; i < o.length; i++) if (o[i]! - o[i - 1]! !== width) return false;
  return true;
}

/** The first row whose width differs from `width`, or -1. */
export function firstBadRow(column: InputColumn, width: number): number {
  const o = column.offsets;
  for (let i = 1; i < o.length; i++) if (o[i]! - o[i - 1]! !== width) return i - 1;
  return -1;
}
