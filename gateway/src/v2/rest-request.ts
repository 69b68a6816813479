import { FerryError } from "@ferry/contracts";
import { badTensor, flatten, type V2Input, type V2InferRequest, type V2RequestedOutput } from "./tensors.js";

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
export function parseRestInfer(body: Uint8Array, headerLength: string | string[] | undefined, splitKey?: string, requestId?: string): V2InferRequest {
  // Digits only: Number() would also take "1e1", "0x10" and " 5 ".
  const jsonLength = headerLength === undefined ? body.byteLength : typeof headerLength === "string" && /^[0-9]{1,15}$/.test(headerLength) ? Number(headerLength) : NaN;
  if (!Number.isSafeInteger(jsonLength) || jsonLength > body.byteLength) {
    throw badRequest(`Inference-Header-Content-Length ${JSON.stringify(headerLength)} must be a byte count within the body (${body.byteLength} bytes)`);
  }
  if (body.byteLength === 0) throw new FerryError("empty_body", "the request body is empty: send {\"inputs\": [...]}");
  const json = parseJson(body.subarray(0, jsonLength));
  const raw = body.subarray(jsonLength);
  const inputs = json.inputs;
  if (!Array.isArray(inputs) || inputs.length === 0) throw badRequest("\"inputs\" must be a non-empty list of tensors");
  let at = 0;
  const parsed = inputs.map((t: unknown, i): V2Input => {
    if (!isObject(t)) throw badRequest(`inputs[${i}] is not an object`);
    const size = parameter(t, "binary_data_size");
    const base = { name: t.name as string, datatype: t.datatype as string, shape: t.shape as number[] };
    if (size === undefined) {
      if (t.data === undefined) throw badTensor(`input ${JSON.stringify(t.name)} has no "data" (nor a binary_data_size parameter)`);
      return { ...base, values: flatten(t.data) };
    }
    if (!Number.isSafeInteger(size) || (size as number) < 0 || at + (size as number) > raw.byteLength) {
      throw badRequest(`input ${JSON.stringify(t.name)}: binary_data_size ${JSON.stringify(size)} goes past the ${raw.byteLength} bytes after the JSON header`);
    }
    const chunk = raw.subarray(at, at + (size as number));
    at += size as number;
    return { ...base, raw: chunk };
  });
  if (at !== raw.byteLength) throw badRequest(`${raw.byteLength - at} bytes after the JSON header belong to no input (binary_data_size)`);
  return {
    ...(json.id !== undefined ? { id: String(json.id) } : {}),
    inputs: parsed,
    ...(json.outputs !== undefined ? { outputs: requestedOutputs(json.outputs) } : {}),
    binaryOutput: parameter(json, "binary_data_output") === true,
    ...(splitKey ? { splitKey } : {}),
    ...(requestId ? { requestId } : {}),
  };
}

function parseJson(bytes: Uint8Array): Json {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8"));
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
