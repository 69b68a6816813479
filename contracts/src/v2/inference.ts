import type { PipelineSignature } from "../status.js";
import { V2Table } from "./input-table.js";
import { parseRestInfer, v2HeaderLength } from "./request.js";
import { chooseOutputs, type V2ReplySpec } from "./response.js";
import { bindInputs } from "./tensors.js";

/** A V2 request as an inferer runs it: its rows, and what its response must carry. */
export interface V2Request {
  table: V2Table;
  reply: V2ReplySpec;
}

/**
 * Reads a V2 REST body (JSON, or the binary data extension when the content type has a `header-length`)
 * and checks its tensors against the pipeline's signature; throws FerryError `bad_tensor`, `bad_json`,
 * `bad_request` or `empty_body` (400).
 */
export function decodeV2Request(body: Uint8Array, contentType: string | undefined, pipeline: string, signature: PipelineSignature): V2Request {
  const req = parseRestInfer(body, v2HeaderLength(contentType));
  const table = new V2Table(bindInputs(pipeline, signature.inputs, req.inputs));
  return { table, reply: { ...(req.id !== undefined ? { id: req.id } : {}), outputs: chooseOutputs(signature.outputs, req.outputs, req.binaryOutput) } };
}
