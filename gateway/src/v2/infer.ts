import { FerryError, inferSubject, isErrorCode, isSubjectToken, requestHeaders, v2ContentType, v2HeaderLength, type ErrorCode } from "@ferry/contracts";
import type { GatewayNats } from "../nats-plugin.js";
import type { V2Models } from "./models.js";

/** Ferry's request-column errors are 422; the protocol answers a tensor that does not fit with 400. */
const tensorCodes: ReadonlySet<ErrorCode> = new Set(["missing_input", "bad_shape", "bad_input_type", "bad_records"]);

/** A V2 REST inference body (JSON, or `jsonLength` bytes of JSON then raw tensors) and Ferry's request headers. */
export interface V2Body {
  body: Uint8Array;
  jsonLength?: number | undefined;
  splitKey?: string | undefined;
  requestId?: string | undefined;
}

/**
 * One V2 inference. The gateway checks only that the model (and version) is served; the body goes as it
 * came to the pipeline's inferers through the coalescer, which read the tensors, run them with the
 * same batching, validations, shadows, splits and swaps as a Wallaroo request, leave the same log
 * record, and write the V2 response themselves. Answers that response's bytes.
 */
export async function inferV2(nats: GatewayNats, models: V2Models, name: string, version: string | undefined, req: V2Body): Promise<V2Body> {
  if (!isSubjectToken(name)) throw new FerryError("unknown_model", `unknown model ${JSON.stringify(name)}`);
  await models.get(name, version);
  const headers = requestHeaders({ contentType: v2ContentType(req.jsonLength), splitKey: req.splitKey, requestId: req.requestId });
  const reply = await nats.coalescer.send(inferSubject(name), { body: req.body, headers, format: "v2" });
  if (reply.status !== 200) throw upstreamError(reply.status, reply.body);
  const jsonLength = v2HeaderLength(reply.contentType);
  return { body: reply.body, jsonLength: jsonLength === undefined ? undefined : Number(jsonLength) };
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
