import { MediaTypes } from "../content-types.js";
import { FerryError } from "../errors.js";
import { badTensor } from "./datatypes.js";
import { flatten, type V2Input, type V2InferRequest, type V2RequestedOutput } from "./tensors.js";

/** The binary data extension's header: how many bytes of the body are the JSON part. */
export const InferenceHeaderLength = "inference-header-content-length";

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const badRequest = (message: string): FerryError => new FerryError("bad_request", message);

/**
 * A REST inference request: JSON, or with the binary data extension a JSON header of
 * `Inference-Header-Content-Length` bytes followed by the raw data of each input that has a
 * `binary_data_size` parameter, in input order.
 */
export function parseRestInfer(body: Uint8Array, headerLength: string | string[] | undefined): V2InferRequest {
  const jsonLength = parseHeaderLength(headerLength, body.byteLength) ?? body.byteLength;
  if (body.byteLength === 0) throw new FerryError("empty_body", "the request body is empty: send {\"inputs\": [...]}");
  const json = parseJson(body.subarray(0, jsonLength));
  const raw = body.subarray(jsonLength);
  const inputs = json.inputs;
  if (!Array.isArray(inputs) || inputs.length === 0) throw badRequest("\"inputs\" must be a non-empty list of tensors");
  const parsed = new Array<V2Input>(inputs.length);
  let at = 0;
  for (let i = 0; i < inputs.length; i++) {
    const t: unknown = inputs[i];
    if (!isObject(t)) throw badRequest(`inputs[${i}] is not an object`);
    const size = parameter(t, "binary_data_size");
    if (size === undefined) {
      if (t.data === undefined) throw badTensor(`input ${JSON.stringify(t.name)} has no "data" (nor a binary_data_size parameter)`);
      parsed[i] = { name: t.name as string, datatype: t.datatype as string, shape: t.shape as number[], values: flatten(t.data) };
      continue;
    }
    if (!Number.isSafeInteger(size) || (size as number) < 0 || at + (size as number) > raw.byteLength) {
      throw badRequest(`input ${JSON.stringify(t.name)}: binary_data_size ${JSON.stringify(size)} goes past the ${raw.byteLength} bytes after the JSON header`);
    }
    parsed[i] = { name: t.name as string, datatype: t.datatype as string, shape: t.shape as number[], raw: raw.subarray(at, at + (size as number)) };
    at += size as number;
  }
  if (at !== raw.byteLength) throw badRequest(`${raw.byteLength - at} bytes after the JSON header belong to no input (binary_data_size)`);
  return {
    ...(json.id !== undefined ? { id: String(json.id) } : {}),
    inputs: parsed,
    ...(json.outputs !== undefined ? { outputs: requestedOutputs(json.outputs) } : {}),
    binaryOutput: parameter(json, "binary_data_output") === true,
  };
}

/**
 * The `Inference-Header-Content-Length` of a body of `bodyBytes`: undefined when absent, else a byte count
 * within the body; 400 `bad_request` otherwise. Digits only: Number() would also take "1e1", "0x10" and " 5 ".
 */
export function parseHeaderLength(headerLength: string | string[] | undefined, bodyBytes: number): number | undefined {
  if (headerLength === undefined) return undefined;
  const jsonLength = typeof headerLength === "string" && /^[0-9]{1,15}$/.test(headerLength) ? Number(headerLength) : NaN;
  if (!Number.isSafeInteger(jsonLength) || jsonLength > bodyBytes) {
    throw badRequest(`Inference-Header-Content-Length ${JSON.stringify(headerLength)} must be a byte count within the body (${bodyBytes} bytes)`);
  }
  return jsonLength;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

function parseJson(bytes: Uint8Array): Json {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes));
  } catch (err) {
    throw new FerryError("bad_json", `the inference request is not JSON: ${(err as Error).message}`);
  }
  if (!isObject(value)) throw badRequest("the inference request must be a JSON object with \"inputs\"");
  return value;
}

/** A tensor's or the request's parameter, when `parameters` is an object. */
function parameter(o: Json, name: string): unknown {
  return isObject(o.parameters) ? o.parameters[name] : undefined;
}

function requestedOutputs(outputs: unknown): V2RequestedOutput[] {
  if (!Array.isArray(outputs)) throw badRequest("\"outputs\" must be a list of {\"name\": ...}");
  return outputs.map((o: unknown, i) => {
    if (!isObject(o) || typeof o.name !== "string") throw badRequest(`outputs[${i}] must be an object with a "name"`);
    const binary = parameter(o, "binary_data");
    return { name: o.name, ...(typeof binary === "boolean" ? { binary } : {}) };
  });
}

/**
 * The content type a V2 body travels with: with the binary data extension, the JSON part's length rides
 * as a parameter (`; header-length=N`), so the inferer can split the body without another header.
 */
export function v2ContentType(jsonLength?: number): string {
  return jsonLength === undefined ? MediaTypes.v2Infer : `${MediaTypes.v2Infer}; header-length=${jsonLength}`;
}

/** The `header-length` parameter of a V2 content type, as text (checked by whoever reads the body); undefined when absent. */
export function v2HeaderLength(contentType: string | undefined): string | undefined {
  const m = /;\s*header-length=([^;\s]*)/i.exec(contentType ?? "");
  return m ? m[1] : undefined;
}

/**
 * A V2 request as the REST body the inferers read: typed values go as JSON `data`, raw ones after the
 * JSON with `binary_data_size` (the binary data extension). Used for gRPC calls, which arrive parsed.
 */
export function encodeV2Request(req: V2InferRequest): { body: Uint8Array; jsonLength?: number } {
  const raws: Uint8Array[] = [];
  const inputs = req.inputs.map((t) => {
    const base = { name: t.name, datatype: t.datatype, shape: t.shape };
    if (!t.raw) return { ...base, data: Array.isArray(t.values) ? t.values : Array.from((t.values ?? []) as ArrayLike<unknown>, (v) => (typeof v === "bigint" ? Number(v) : v)) };
    raws.push(t.raw);
    return { ...base, parameters: { binary_data_size: t.raw.byteLength } };
  });
  const json = encoder.encode(JSON.stringify({
    ...(req.id !== undefined ? { id: req.id } : {}),
    inputs,
    ...(req.outputs ? { outputs: req.outputs.map((o) => ({ name: o.name, ...(o.binary !== undefined ? { parameters: { binary_data: o.binary } } : {}) })) } : {}),
    parameters: { binary_data_output: req.binaryOutput },
  }));
  return jsonThenRaw(json, raws);
}

/**
 * The binary data extension's layout, for requests and responses alike: the JSON, then each raw tensor in
 * order (just the JSON when there are none, and then no `jsonLength`).
 */
export function jsonThenRaw(json: Uint8Array, raws: readonly Uint8Array[]): { body: Uint8Array; jsonLength?: number } {
  if (raws.length === 0) return { body: json };
  const body = new Uint8Array(json.byteLength + raws.reduce((n, r) => n + r.byteLength, 0));
  body.set(json, 0);
  let at = json.byteLength;
  for (const r of raws) {
    body.set(r, at);
    at += r.byteLength;
  }
  return { body, jsonLength: json.byteLength };
}
