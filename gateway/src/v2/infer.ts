import { FerryError, inferSubject, isErrorCode, isSubjectToken, requestHeaders, type ErrorCode, type InferenceRecord } from "@ferry/contracts";
import type { GatewayNats } from "../nats-plugin.js";
import type { V2Models } from "./models.js";
import { chooseOutputs, v2Result, type V2Result } from "./reply-tensors.js";
import { wallarooBody } from "./request-body.js";
import { bindInputs, type V2InferRequest } from "./tensors.js";

/** Ferry's request-column errors are 422; the protocol answers a tensor that does not fit with 400. */
const tensorCodes: ReadonlySet<ErrorCode> = new Set(["missing_input", "bad_shape", "bad_input_type", "bad_records"]);

/**
 * One V2 inference, the same way as a Wallaroo request: the tensors become the Wallaroo body they
 * describe (pandas records, or an Arrow file for raw data) and go to the pipeline's inferers through the
 * coalescer, so that batching, validations, shadows, splits, swaps and the log record are the same.
 */
export async function inferV2(nats: GatewayNats, models: V2Models, name: string, version: string | undefined, req: V2InferRequest): Promise<V2Result> {
  if (!isSubjectToken(name)) throw new FerryError("unknown_model", `unknown model ${JSON.stringify(name)}`);
  const model = await models.get(name, version);
  const chosen = chooseOutputs(model.signature.outputs, req.outputs, req.binaryOutput);
  const { body, contentType, format } = wallarooBody(bindInputs(name, model.signature.inputs, req.inputs));
  // No Accept: the inferer answers pandas records by default, and each header costs bytes in every envelope.
  const headers = requestHeaders({ contentType, splitKey: req.splitKey, requestId: req.requestId });
  const reply = await nats.coalescer.send(inferSubject(name), { body, headers, format });
  if (reply.status !== 200) throw upstreamError(reply.status, reply.body);
  const records = JSON.parse(Buffer.from(reply.body.buffer, reply.body.byteOffset, reply.body.byteLength).toString("utf8")) as InferenceRecord[];
  return {
    model_name: name,
    model_version: version || model.versions[0] || "",
    ...(req.id !== undefined ? { id: req.id } : {}),
    ...v2Result(records, model.signature.outputs, chosen),
  };
}

/** An inferer's error reply as a FerryError with its code (request-column errors as 400 `bad_tensor`). */
function upstreamError(status: number, body: Uint8Array): FerryError {
  let parsed: { error?: unknown; code?: unknown } = {};
  try {
    parsed = JSON.parse(Buffer.from(body).toString("utf8")) as typeof parsed;
  } catch {
    // not Ferry's error shape: reported by status below
  }
  const message = typeof parsed.error === "string" ? parsed.error : `the inferer answered ${status}`;
  if (!isErrorCode(parsed.code)) return new FerryError(status >= 500 ? "bad_gateway" : "bad_request", message);
  return new FerryError(tensorCodes.has(parsed.code) ? "bad_tensor" : parsed.code, message);
}
