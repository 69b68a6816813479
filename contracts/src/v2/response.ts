import { FerryError } from "../errors.js";
import { jsonValues, rowSlice, shadowJson, type OutputTensor, type RecordsView } from "../records.js";
import type { TensorSignature } from "../status.js";
import { badTensor, isV2Datatype, rawFromValues, v2DatatypeOf, type V2Datatype } from "./datatypes.js";
import type { V2RequestedOutput } from "./tensors.js";

const decoder = new TextDecoder();

/** An output to send back: its index in the pipeline's outputs, and whether as raw bytes. */
export interface ChosenOutput {
  index: number;
  binary: boolean;
}

/** What a V2 response carries besides the run: the request's `id` and the outputs it asked for. */
export interface V2ReplySpec {
  id?: string;
  outputs: readonly ChosenOutput[];
}

/**
 * A V2 response: its JSON text, then (binary data extension) the raw outputs in order. Text, not bytes:
 * the service turns it into bytes its own way (on Node 20 a TextEncoder.encode costs microseconds).
 */
export interface V2ResponseParts {
  json: string;
  raws: Uint8Array[];
}

/** Which outputs go back, and how: by the request's `outputs` list, else all of them. */
export function chooseOutputs(signature: readonly TensorSignature[], requested: readonly V2RequestedOutput[] | undefined, binaryOutput: boolean): ChosenOutput[] {
  if (!requested || requested.length === 0) return signature.map((_s, index) => ({ index, binary: binaryOutput }));
  // Each output once: a list naming one wide output thousands of times would multiply the response.
  const seen = new Set<string>();
  return requested.map((r) => {
    const index = signature.findIndex((s) => s.name === r.name);
    if (index < 0) throw badTensor(`the model has no output ${JSON.stringify(r.name)}; its outputs: ${signature.map((s) => s.name).join(", ")}`);
    if (seen.has(r.name)) throw badTensor(`output ${JSON.stringify(r.name)} is asked for more than once`);
    seen.add(r.name);
    return { index, binary: r.binary ?? binaryOutput };
  });
}

/**
 * A request's rows of a run as a V2 inference response, written straight from the run's tensors (the
 * JSON text of values is the one the log record uses too). Each output's rows are joined along the
 * first dimension; an output that is not per row is the whole run's and is sent once. Validations'
 * results go in `check_failures` and shadow models' in `shadow_data` (JSON text, one entry per row),
 * since parameters hold only scalars.
 */
export function encodeV2Response(view: RecordsView, signature: readonly TensorSignature[], modelVersion: string, spec: V2ReplySpec): V2ResponseParts {
  const raws: Uint8Array[] = [];
  const outputs = spec.outputs.map(({ index, binary }) => {
    const t = view.outputs[index];
    const name = signature[index]?.name ?? t?.name ?? `output_${index}`;
    const datatype = v2DatatypeOf(signature[index]?.type ?? "") ?? v2DatatypeOf(t?.type ?? "") ?? "FP32";
    const { shape, ranges } = t ? rowsOf(t, view) : { shape: [], ranges: [] };
    const head = `{"name":${JSON.stringify(name)},"datatype":"${datatype}","shape":[${shape.join(",")}]`;
    if (!binary) return `${head},"data":[${ranges.map((r) => jsonValues(t!, r.start, r.end)).filter((s) => s !== "").join(",")}]}`;
    const raw = rawFromValues(datatype, valuesOf(t, ranges));
    raws.push(raw);
    return `${head},"parameters":{"binary_data_size":${raw.byteLength}}}`;
  });
  const id = spec.id !== undefined ? `,"id":${JSON.stringify(spec.id)}` : "";
  const json = `{"model_name":${JSON.stringify(view.pipelineName)},"model_version":${JSON.stringify(modelVersion)}${id},`
    + `"parameters":${parametersJson(view)},"outputs":[${outputs.join(",")}]}`;
  return { json, raws };
}

/**
 * The output's shape and its value ranges for this request's rows: a per-row output (first dimension the
 * run's rows, seen per row as [1, ...]) gives each row's slice, any other output its whole data once.
 */
function rowsOf(t: OutputTensor, view: RecordsView): { shape: number[]; ranges: { start: number; end: number }[] } {
  if (view.rowCount === 0) return { shape: [], ranges: [] };
  const first = rowSlice(t, view.runRows, view.rowStart);
  if (first.dim[0] !== 1) return { shape: first.dim, ranges: [first] };
  const ranges = [first];
  for (let i = 1; i < view.rowCount; i++) ranges.push(rowSlice(t, view.runRows, view.rowStart + i));
  return { shape: [view.rowCount, ...first.dim.slice(1)], ranges };
}

function valuesOf(t: OutputTensor | undefined, ranges: readonly { start: number; end: number }[]): (number | boolean | string)[] {
  const out: (number | boolean | string)[] = [];
  if (!t) return out;
  for (const r of ranges) {
    for (let i = r.start; i < r.end; i++) {
      const v = t.data[i]!;
      out.push(t.type === "string" ? String(v) : Number(v));
    }
  }
  return out;
}

/**
 * `check_failures`, `shadow_data` (only when a shadow answered) and the last step's model and version,
 * as JSON. check_failures' text is digits, commas and brackets only, so it needs no escaping.
 */
function parametersJson(view: RecordsView): string {
  if (view.rowCount === 0) return `{"check_failures":"[]"}`;
  let checks = "";
  for (let i = 0; i < view.rowCount; i++) checks += `${i > 0 ? "," : ""}[${(view.checkFailures?.(i) ?? []).join(",")}]`;
  let shadows = "";
  if ((view.shadows ?? []).some((s) => s.outputs)) {
    let rows = "";
    for (let i = 0; i < view.rowCount; i++) rows += `${i > 0 ? "," : ""}${shadowJson(view, view.rowStart + i)}`;
    shadows = `,"shadow_data":${JSON.stringify(`[${rows}]`)}`;
  }
  return `{"check_failures":"[${checks}]"${shadows},"step_model":${JSON.stringify(view.modelName)},"step_model_version":${JSON.stringify(view.modelVersion)}}`;
}

/** One output of a decoded V2 response: its JSON values, or its raw bytes (binary data extension). */
export interface V2DecodedOutput {
  name: string;
  datatype: V2Datatype;
  shape: number[];
  data?: unknown[];
  raw?: Uint8Array;
}

/** A V2 response as the gateway reads it back (to answer gRPC). */
export interface V2DecodedResponse {
  model_name: string;
  model_version: string;
  id?: string;
  parameters: Record<string, string | number | boolean>;
  outputs: V2DecodedOutput[];
}

/** Reads a V2 response body written by {@link encodeV2Response}; a malformed one is a 502 `bad_gateway`. */
export function decodeV2Response(body: Uint8Array, jsonLength?: number): V2DecodedResponse {
  const length = jsonLength ?? body.byteLength;
  type Wire = Omit<V2DecodedResponse, "outputs"> & { outputs: (Omit<V2DecodedOutput, "raw"> & { parameters?: { binary_data_size?: number } })[] };
  let parsed: Wire;
  try {
    parsed = JSON.parse(decoder.decode(body.subarray(0, length))) as typeof parsed;
  } catch (err) {
    throw new FerryError("bad_gateway", `an inferer's V2 response is not JSON: ${(err as Error).message}`);
  }
  let at = length;
  const outputs = parsed.outputs.map((o): V2DecodedOutput => {
    if (!isV2Datatype(o.datatype)) throw new FerryError("bad_gateway", `an inferer's V2 response has datatype ${JSON.stringify(o.datatype)}`);
    const size = o.parameters?.binary_data_size;
    const base = { name: o.name, datatype: o.datatype, shape: o.shape };
    if (size === undefined) return { ...base, data: o.data ?? [] };
    const raw = body.subarray(at, at + size);
    at += size;
    return { ...base, raw };
  });
  return { ...parsed, outputs };
}
