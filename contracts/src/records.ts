import {
  Bool, DataType, Field, Float32, Float64, Int16, Int32, Int64, Int8, List, Table, Uint16, Uint32, Uint64, Uint8,
  Utf8, tableToIPC, vectorFromArray, type Vector,
} from "apache-arrow";
import { OutputTypeKeys, type NumericArray, type TensorElementType } from "./tensor-types.js";
import type { InputTable } from "./input-table.js";
import { logRecordStart } from "./log-batch.js";

/** One output tensor of a session run covering every row of a (possibly merged) batch. */
export interface OutputTensor {
  readonly name: string;
  readonly type: TensorElementType;
  readonly dims: readonly number[];
  readonly data: NumericArray | readonly string[];
}

/** The rows of one request inside a session run, with what its records say. */
export interface RecordsView {
  readonly pipelineName: string;
  readonly modelName: string;
  readonly modelVersion: string;
  /** ns: [0] decode, then one per step. */
  readonly elapsed: readonly number[];
  /** ms since the epoch. */
  readonly time: number;
  readonly outputs: readonly OutputTensor[];
  /** Rows in the whole session run, and where this request's rows start in it. */
  readonly runRows: number;
  readonly rowStart: number;
  readonly rowCount: number;
  /** Row `i` (of this request) as JSON text for `original_data`, or null when too large to echo. */
  originalData(i: number): string | null;
  /** Indices of the validations row `i` triggered. */
  checkFailures?(i: number): readonly number[];
  /** Shadow models' results for the whole run (reported under `shadow_data`; failed ones are left out). */
  readonly shadows?: readonly { readonly model: string; readonly outputs?: readonly OutputTensor[]; readonly error?: string }[];
}

/** One record of the pandas-records reply, as the spec documents it. */
export interface InferenceRecord {
  check_failures: number[];
  elapsed: number[];
  model_name: string;
  model_version: string;
  original_data: unknown;
  outputs: Record<string, { data: unknown[]; dim: number[]; v: number }>[];
  pipeline_name: string;
  shadow_data: Record<string, unknown>;
  time: number;
}

/** A row's slice of an output tensor: [start, end) into `data` and the dims Wallaroo reports. */
export function rowSlice(t: OutputTensor, runRows: number, row: number): { start: number; end: number; dim: number[] } {
  if (t.dims.length > 0 && t.dims[0] === runRows) {
    let size = 1;
    for (let d = 1; d < t.dims.length; d++) size *= t.dims[d]!;
    return { start: row * size, end: (row + 1) * size, dim: [1, ...t.dims.slice(1)] };
  }
  return { start: 0, end: t.data.length, dim: [...t.dims] };
}

/**
 * A row's values as JSON text, kept per tensor: the reply and the log record of a row both write them,
 * and for a wide output (an image classifier's 1000 scores) the number-to-text work was the inferer's
 * largest JavaScript cost after the socket writes. A WeakMap, so the text goes with the run's tensors.
 */
const valueTexts = new WeakMap<OutputTensor, Map<number, { end: number; text: string }>>();

export function jsonValues(t: OutputTensor, start: number, end: number): string {
  let texts = valueTexts.get(t);
  if (!texts) valueTexts.set(t, (texts = new Map()));
  const kept = texts.get(start);
  if (kept?.end === end) return kept.text;
  const text = encodeValues(t, start, end);
  texts.set(start, { end, text });
  return text;
}

function encodeValues(t: OutputTensor, start: number, end: number): string {
  const d = t.data;
  const parts = new Array<string>(end - start);
  if (t.type === "string") {
    for (let i = start; i < end; i++) parts[i - start] = JSON.stringify(String(d[i]));
  } else if (t.type === "bool") {
    for (let i = start; i < end; i++) parts[i - start] = d[i] ? "true" : "false";
  } else {
    for (let i = start; i < end; i++) {
      const x = Number(d[i]);
      parts[i - start] = Number.isFinite(x) ? String(x) : "null";
    }
  }
  return parts.join(",");
}

/** A row's `outputs` list: `{"Float":{"data":[…],"dim":[1,…],"v":1}}` per tensor. */
function outputsJson(tensors: readonly OutputTensor[], runRows: number, row: number): string {
  let out = "";
  for (let k = 0; k < tensors.length; k++) {
    const t = tensors[k]!;
    const s = rowSlice(t, runRows, row);
    out += `${k > 0 ? "," : ""}{${JSON.stringify(OutputTypeKeys[t.type])}:{"data":[${jsonValues(t, s.start, s.end)}],"dim":[${s.dim.join(",")}],"v":1}}`;
  }
  return `[${out}]`;
}

/** A row's `shadow_data`: model name → its outputs list. */
export function shadowJson(view: RecordsView, row: number): string {
  if (!view.shadows || view.shadows.length === 0) return "{}";
  const parts = view.shadows.filter((s) => s.outputs).map((s) => `${JSON.stringify(s.model)}:${outputsJson(s.outputs!, view.runRows, row)}`);
  return `{${parts.join(",")}}`;
}

/** Encodes the view's rows as a pandas-records JSON array (keys in the spec's order). */
export function encodeRecordsJson(view: RecordsView): string {
  const head = `"elapsed":[${view.elapsed.join(",")}],"model_name":${JSON.stringify(view.modelName)},"model_version":${JSON.stringify(view.modelVersion)},"original_data":`;
  const tail = `,"pipeline_name":${JSON.stringify(view.pipelineName)},"shadow_data":`;
  const records = new Array<string>(view.rowCount);
  for (let i = 0; i < view.rowCount; i++) {
    const row = view.rowStart + i;
    const checks = view.checkFailures?.(i) ?? [];
    records[i] = `{"check_failures":[${checks.join(",")}],${head}${view.originalData(i) ?? "null"},"outputs":${outputsJson(view.outputs, view.runRows, row)}${tail}${shadowJson(view, row)},"time":${view.time}}`;
  }
  return `[${records.join(",")}]`;
}

const arrowTypes: Record<TensorElementType, () => DataType> = {
  float32: () => new Float32(), float64: () => new Float64(), float16: () => new Float32(),
  int8: () => new Int8(), uint8: () => new Uint8(), int16: () => new Int16(), uint16: () => new Uint16(),
  int32: () => new Int32(), uint32: () => new Uint32(), int64: () => new Int64(), uint64: () => new Uint64(),
  bool: () => new Bool(), string: () => new Utf8(),
};

function listOf(type: DataType): List {
  return new List(new Field("item", type, true));
}

function outputRows(t: OutputTensor, view: RecordsView): unknown[][] {
  const rows: unknown[][] = [];
  for (let i = 0; i < view.rowCount; i++) {
    const s = rowSlice(t, view.runRows, view.rowStart + i);
    const row: unknown[] = [];
    for (let j = s.start; j < s.end; j++) {
      const x = t.data[j];
      row.push(t.type === "bool" ? Boolean(x) : x);
    }
    rows.push(row);
  }
  return rows;
}

/**
 * Encodes the view's rows as an Arrow IPC file: one row per record with the record's scalar fields,
 * `elapsed` and `check_failures` as lists, `original_data` and `shadow_data` as JSON text, and one
 * list column `out.<output name>` per output (its values flattened; `outputs` of the JSON form).
 */
export function encodeRecordsArrow(view: RecordsView): Uint8Array {
  const n = view.rowCount;
  const repeat = <T>(v: T): T[] => Array.from({ length: n }, () => v);
  const columns: Record<string, Vector> = {
    time: vectorFromArray(repeat(BigInt(view.time)), new Int64()),
    pipeline_name: vectorFromArray(repeat(view.pipelineName), new Utf8()),
    model_name: vectorFromArray(repeat(view.modelName), new Utf8()),
    model_version: vectorFromArray(repeat(view.modelVersion), new Utf8()),
    elapsed: vectorFromArray(repeat(view.elapsed.map((e) => BigInt(e))), listOf(new Int64())),
    check_failures: vectorFromArray(Array.from({ length: n }, (_, i) => [...(view.checkFailures?.(i) ?? [])]), listOf(new Int32())),
    original_data: vectorFromArray(Array.from({ length: n }, (_, i) => view.originalData(i)), new Utf8()),
    shadow_data: vectorFromArray(Array.from({ length: n }, (_, i) => shadowJson(view, view.rowStart + i)), new Utf8()),
  };
  for (const t of view.outputs) {
    columns[`out.${t.name}`] = vectorFromArray(outputRows(t, view), listOf(arrowTypes[t.type]()));
  }
  return tableToIPC(new Table(columns), "file");
}

/** What a log record adds to the records of a reply. */
export interface LogContext {
  readonly partition: string;
  readonly pipelineVersion: string;
  readonly lastModelSha: string;
  /** Row `i`'s `in` object as JSON text, and the columns left out of it (see keptInputs). */
  input(i: number): { json: string; dropped: readonly string[] };
  /** Row `i`'s validation flags by name (all false or absent when there are none). */
  anomalies?(i: number): Readonly<Record<string, boolean>>;
  /** With an A/B split: JSON text (a JSON string) naming the model that answered, for `out._model_split`. */
  readonly modelSplit?: string;
}

/**
 * Row `i`'s inputs with the largest columns dropped until it fits in `dropBytes` (8 bytes a value).
 * Sizes come from the table, so a dropped column (an image) is never turned into a plain array.
 */
export function keptInputs(table: InputTable, i: number, dropBytes: number): { in: Record<string, unknown>; dropped: string[] } {
  const sizes = table.columnNames.map((name) => [name, table.cellSize(name, i) * 8] as const);
  let total = sizes.reduce((n, [, s]) => n + s, 0);
  if (total <= dropBytes) return { in: table.row(i), dropped: [] };
  const dropped: string[] = [];
  for (const [name, size] of [...sizes].sort((a, b) => b[1] - a[1])) {
    if (total <= dropBytes) break;
    dropped.push(name);
    total -= size;
  }
  // A Set: a hostile row may have a million columns, and `includes` would make this quadratic.
  const gone = new Set(dropped);
  return { in: table.row(i, table.columnNames.filter((name) => !gone.has(name))), dropped };
}

/** One log record (JSON text) per row of the view, in the spec's log format. */
export function encodeLogRecords(view: RecordsView, log: LogContext): string[] {
  const lastModel = JSON.stringify(JSON.stringify({ model_name: view.modelName, model_sha: log.lastModelSha }));
  const metadataTail = `"pipeline_version":${JSON.stringify(log.pipelineVersion)},"elapsed":[${view.elapsed.join(",")}]`;
  const partition = JSON.stringify(log.partition);
  const shadows = (view.shadows ?? []).filter((s) => s.outputs);
  const out = new Array<string>(view.rowCount);
  for (let i = 0; i < view.rowCount; i++) {
    const row = view.rowStart + i;
    const input = log.input(i);
    const shadowOut = shadows.map((s) => `,${JSON.stringify(`out_${s.model}`)}:${valuesByName(s.outputs!, view.runRows, row)}`).join("");
    const anomaly = log.anomalies ? anomalyJson(log.anomalies(i)) : NO_ANOMALY;
    const outs = valuesByName(view.outputs, view.runRows, row);
    const outJson = log.modelSplit ? `${outs.slice(0, -1)}${outs.length > 2 ? "," : ""}"_model_split":[${log.modelSplit}]}` : outs;
    out[i] = `${logRecordStart(view.time)},"in":${input.json},"out":${outJson}${shadowOut},"anomaly":${anomaly},"metadata":{"last_model":${lastModel},${metadataTail},"dropped":${input.dropped.length === 0 ? "[]" : JSON.stringify(input.dropped)},"partition":${partition}}}`;
  }
  return out;
}

const NO_ANOMALY = `{"count":0}`;

function anomalyJson(flags: Readonly<Record<string, boolean>>): string {
  const count = Object.values(flags).filter(Boolean).length;
  return JSON.stringify({ count, ...flags });
}

/** A row's outputs as `{"name": [values]}`. */
function valuesByName(tensors: readonly OutputTensor[], runRows: number, row: number): string {
  const parts = tensors.map((t) => {
    const s = rowSlice(t, runRows, row);
    return `${JSON.stringify(t.name)}:[${jsonValues(t, s.start, s.end)}]`;
  });
  return `{${parts.join(",")}}`;
}
