import { rawFromValues } from "./datatypes.js";
import type { V2Output, V2Result } from "./reply-tensors.js";

/** A REST inference response: JSON, or the JSON header followed by the raw outputs (binary data extension). */
export interface RestInferResponse {
  body: Buffer;
  contentType: string;
  /** Set when raw outputs follow the JSON: its length, for `Inference-Header-Content-Length`. */
  headerLength?: number;
}

/** JSON list items of an output's values: finite numbers and booleans print as JSON already; anything else (null for a non-finite number) is written one by one. */
function valuesJson(values: readonly (number | boolean | string | null)[]): string {
  const plain = values.every((v) => typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v)));
  return plain ? values.join(",") : values.map((v) => (typeof v === "number" && !Number.isFinite(v) ? "null" : JSON.stringify(v))).join(",");
}

/**
 * Outputs marked binary go after the JSON, in output order, each with its `binary_data_size`. The JSON
 * is written here rather than by JSON.stringify over a copy of every value: this runs on every request.
 */
export function restInferResponse(result: V2Result): RestInferResponse {
  const raws: Uint8Array[] = [];
  const outputs = result.outputs.map((o: V2Output) => {
    const head = `{"name":${JSON.stringify(o.name)},"datatype":"${o.datatype}","shape":[${o.shape.join(",")}]`;
    if (!o.binary) return `${head},"data":[${valuesJson(o.values)}]}`;
    const raw = rawFromValues(o.datatype, o.values);
    raws.push(raw);
    return `${head},"parameters":{"binary_data_size":${raw.byteLength}}}`;
  });
  const id = result.id !== undefined ? `,"id":${JSON.stringify(result.id)}` : "";
  const json = Buffer.from(`{"model_name":${JSON.stringify(result.model_name)},"model_version":${JSON.stringify(result.model_version)}${id},`
    + `"parameters":${JSON.stringify(result.parameters)},"outputs":[${outputs.join(",")}]}`);
  if (raws.length === 0) return { body: json, contentType: "application/json" };
  return { body: Buffer.concat([json, ...raws]), contentType: "application/octet-stream", headerLength: json.byteLength };
}
