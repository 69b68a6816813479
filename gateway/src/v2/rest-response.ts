import { rawFromValues } from "./datatypes.js";
import type { V2Result } from "./reply-tensors.js";

/** A REST inference response: JSON, or the JSON header followed by the raw outputs (binary data extension). */
export interface RestInferResponse {
  body: Buffer;
  contentType: string;
  /** Set when raw outputs follow the JSON: its length, for `Inference-Header-Content-Length`. */
  headerLength?: number;
}

/** Outputs marked binary go after the JSON, in output order, each with its `binary_data_size`. */
export function restInferResponse(result: V2Result): RestInferResponse {
  const raws: Uint8Array[] = [];
  const outputs = result.outputs.map((o) => {
    const head = { name: o.name, datatype: o.datatype, shape: o.shape };
    if (!o.binary) return { ...head, data: o.values };
    const raw = rawFromValues(o.datatype, o.values);
    raws.push(raw);
    return { ...head, parameters: { binary_data_size: raw.byteLength } };
  });
  const json = Buffer.from(JSON.stringify({ ...result, outputs }));
  if (raws.length === 0) return { body: json, contentType: "application/json" };
  return { body: Buffer.concat([json, ...raws]), contentType: "application/octet-stream", headerLength: json.byteLength };
}
