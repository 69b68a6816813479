import type { TensorSignature } from "../status.js";
import type { NumericArray } from "../tensor-types.js";
import { ElementBytes, badTensor, isV2Datatype, v2DatatypeOf, valuesFromRaw, type V2Datatype } from "./datatypes.js";

/** One input tensor of a V2 request: its data as plain values (JSON, gRPC contents) or raw little-endian bytes. */
export interface V2Input {
  name: string;
  datatype: string;
  shape: number[];
  values?: readonly unknown[] | NumericArray;
  raw?: Uint8Array;
}

/** An output the client asked for, and whether it wants it as raw bytes. */
export interface V2RequestedOutput {
  name: string;
  binary?: boolean;
}

/** A V2 inference request, from REST (JSON or binary) or gRPC. */
export interface V2InferRequest {
  id?: string;
  inputs: V2Input[];
  /** Only these outputs, in this order; undefined: all of them. */
  outputs?: V2RequestedOutput[];
  /** Outputs not named in `outputs` go as raw bytes (REST `binary_data_output`; gRPC always). */
  binaryOutput: boolean;
  /** Ferry's own request headers, carried as HTTP headers or gRPC metadata. */
  splitKey?: string;
  requestId?: string;
}

/** An input checked against the pipeline's signature: rows of `width` values, in the pipeline's input order. */
export interface BoundInput {
  readonly column: string;
  readonly type: string;
  readonly datatype: V2Datatype;
  readonly rows: number;
  readonly width: number;
  readonly input: V2Input;
}

/** Checks every input's name, datatype, shape and data size against the pipeline's inputs; 400 `bad_tensor` otherwise. */
export function bindInputs(model: string, signature: readonly TensorSignature[], inputs: readonly V2Input[]): BoundInput[] {
  const byName = new Map<string, V2Input>();
  for (const input of inputs) {
    if (typeof input.name !== "string" || !signature.some((s) => s.name === input.name)) {
      throw badTensor(`model ${model} has no input ${JSON.stringify(input.name)}; its inputs: ${signature.map((s) => s.name).join(", ")}`);
    }
    if (byName.has(input.name)) throw badTensor(`input ${JSON.stringify(input.name)} is given twice`);
    byName.set(input.name, input);
  }
  const bound = signature.map((spec) => {
    const input = byName.get(spec.name);
    if (!input) throw badTensor(`input ${JSON.stringify(spec.name)} is missing (model ${model} takes ${signature.map((s) => s.name).join(", ")})`);
    return bindInput(spec, input);
  });
  if (bound.some((b) => b.rows !== bound[0]!.rows)) throw badTensor(`inputs differ in their first (batch) dimension: ${bound.map((b) => `${b.column} ${b.rows}`).join(", ")}`);
  return bound;
}

function bindInput(spec: TensorSignature, input: V2Input): BoundInput {
  const wanted = v2DatatypeOf(spec.type);
  if (input.datatype !== wanted || !isV2Datatype(input.datatype)) {
    throw badTensor(`input ${JSON.stringify(spec.name)} has datatype ${JSON.stringify(input.datatype)}; the model takes ${wanted ?? spec.type}`);
  }
  if (wanted === "FP16" || wanted === "BYTES") throw badTensor(`input ${JSON.stringify(spec.name)}: ${wanted} inputs are not supported (Ferry feeds numeric and boolean model inputs)`);
  const count = checkShape(spec, input.shape);
  const given = input.raw ? rawCount(input.datatype, input.raw, count) : input.values?.length ?? 0;
  if (given !== count) throw badTensor(`input ${JSON.stringify(spec.name)}: shape [${input.shape.join(",")}] holds ${count} elements, the data ${given}`);
  if (input.values) checkValues(spec.name, input.datatype, input.values);
  const rows = input.shape.length === 0 ? 1 : input.shape[0]!;
  return { column: spec.name, type: spec.type, datatype: input.datatype, rows, width: rows === 0 ? 0 : count / rows, input };
}

/** The element count of a shape that fits the signature's dims (-1: any size); 400 `bad_tensor` otherwise. */
function checkShape(spec: TensorSignature, shape: unknown): number {
  const name = JSON.stringify(spec.name);
  if (!Array.isArray(shape)) throw badTensor(`input ${name}: shape must be a list of non-negative integers`);
  let count = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || (d as number) < 0) throw badTensor(`input ${name}: shape must be a list of non-negative integers`);
    count *= d as number;
  }
  const dims = spec.dims;
  let fits = dims.length === 0 || shape.length === dims.length;
  for (let i = 0; fits && i < dims.length; i++) fits = dims[i]! <= 0 || shape[i] === dims[i];
  if (!fits) throw badTensor(`input ${name} has shape [${shape.join(",")}]; the model takes [${dims.join(",")}] (-1: any size)`);
  return count;
}

/** Elements in raw data (for the size check); BYTES counts its length-prefixed elements. */
function rawCount(datatype: V2Datatype, raw: Uint8Array, count: number): number {
  if (datatype === "BYTES") return valuesFromRaw("", datatype, raw, count).length;
  const size = ElementBytes[datatype];
  if (raw.byteLength % size !== 0) throw badTensor(`${raw.byteLength} bytes of ${datatype} data is not a whole number of ${size}-byte elements`);
  return raw.byteLength / size;
}

/** JSON data must hold numbers of the datatype's kind (true/false for BOOL). A loop per kind: this runs on every element. */
function checkValues(name: string, datatype: V2Datatype, values: readonly unknown[] | NumericArray): void {
  if (!Array.isArray(values)) return;
  const n = values.length;
  let i = 0;
  if (datatype === "BOOL") while (i < n && typeof values[i] === "boolean") i++;
  // A number past float64's range (1e400) parses as Infinity: no model input can take it.
  else if (datatype === "FP32" || datatype === "FP64" || datatype === "FP16") while (i < n && typeof values[i] === "number" && Number.isFinite(values[i])) i++;
  else if (datatype === "BYTES") while (i < n && typeof values[i] === "string") i++;
  else while (i < n && Number.isInteger(values[i])) i++;
  if (i < n) throw badTensor(`input ${JSON.stringify(name)} element ${i} (${typeof values[i] === "number" ? String(values[i]) : JSON.stringify(values[i])}) is not a ${datatype} value`);
}

/** Deepest nesting of a tensor's JSON data: a tensor's rank, with room to spare (ONNX models rarely pass 8). */
const MAX_DEPTH = 32;

/**
 * Row-major nested lists (`[[1,2],[3,4]]`) flattened; flat data is returned as it is. Iterative, with
 * a depth limit: the data may be hostile, and `flat(Infinity)` overflows the stack on deep nesting.
 */
export function flatten(data: unknown): unknown[] {
  if (!Array.isArray(data)) return [data];
  let nested = false;
  for (let i = 0; i < data.length && !nested; i++) nested = Array.isArray(data[i]);
  if (!nested) return data;
  const out: unknown[] = [];
  const stack: { list: unknown[]; at: number }[] = [{ list: data, at: 0 }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.at >= top.list.length) {
      stack.pop();
      continue;
    }
    const v = top.list[top.at++];
    if (!Array.isArray(v)) out.push(v);
    else if (stack.length >= MAX_DEPTH) throw badTensor(`tensor data is nested deeper than ${MAX_DEPTH} levels`);
    else stack.push({ list: v, at: 0 });
  }
  return out;
}
