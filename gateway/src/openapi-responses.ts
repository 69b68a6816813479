import { ErrorCodes, MediaTypes, errorBodyOf, type ErrorCode } from "@ferry/contracts";

/** A JSON Schema, as written into the document (plain JSON: TypeBox's symbol keys are dropped). */
export type JsonSchema = Record<string, unknown>;

/**
 * A response as a route's `schema.response` holds it, in the media-type form that both Fastify (a
 * serializer per media type) and @fastify/swagger (the OpenAPI response) read.
 */
export interface RouteResponse {
  description: string;
  headers?: Record<string, JsonSchema & { description: string }>;
  content?: Record<string, { schema: JsonSchema }>;
}

/** A body of raw bytes (Arrow). */
export const binary: JsonSchema = { type: "string", format: "binary" };

/** `content` holding one JSON body. */
export const jsonContent = (schema: JsonSchema): Record<string, { schema: JsonSchema }> => ({ [MediaTypes.json]: { schema } });

/** A copy of a TypeBox schema as plain JSON (no symbol keys, nothing shared with contracts). */
export const plainSchema = (schema: unknown): JsonSchema => JSON.parse(JSON.stringify(schema)) as JsonSchema;

/** When each code is answered (the README's error table, per code). */
const codeNotes: Partial<Record<ErrorCode, string>> = {
  bad_json: "malformed JSON",
  bad_records: "pandas-records that is not an array of objects",
  bad_arrow: "corrupt, truncated or hostile Arrow, or not Arrow at all (bad magic)",
  bad_request: "a bad parameter or header",
  empty_body: "an empty body",
  not_found: "no such route",
  unknown_pipeline: "no such pipeline",
  unknown_model: "V2: no such model (pipeline)",
  unknown_version: "V2: the model has no such version running",
  bad_tensor: "V2: an input or output tensor that does not fit the model (name, datatype, shape, data length)",
  not_acceptable: "`Accept` names nothing Ferry can produce",
  payload_too_large: "body over `--body-limit` (or over the NATS server's `max_payload`)",
  unsupported_media_type: "missing or unsupported `Content-Type`",
  missing_input: "a model input's column is missing",
  bad_shape: "a row has the wrong number of values",
  bad_input_type: "values are not numbers",
  inference_failed: "onnxruntime refused the run",
  internal: "an unexpected failure",
  bad_gateway: "the NATS request failed",
  no_inferer: "no inferer answers",
  pipeline_not_ready: "the pipeline's model failed to load",
  logs_unavailable: "the logger service is not running, or its store is not ready",
  overloaded: "the gateway is shedding load; retry after `Retry-After` seconds",
  inferer_timeout: "no reply within `--timeout`",
};

/** One response per HTTP status for `codes`, each with the `{error, code}` body narrowed to that status's codes. */
export function errorResponses(codes: readonly ErrorCode[], notes: Partial<Record<ErrorCode, string>> = {}): Record<string, RouteResponse> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) byStatus.set(ErrorCodes[code], [...(byStatus.get(ErrorCodes[code]) ?? []), code]);
  const out: Record<string, RouteResponse> = {};
  for (const [status, list] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    const note = (c: ErrorCode): string => notes[c] ?? codeNotes[c] ?? "";
    out[String(status)] = {
      description: list.map((c) => `\`${c}\`${note(c) ? `: ${note(c)}` : ""}`).join("; "),
      // Only `overloaded` sets Retry-After; OpenAPI cannot tie a header to one code, so the description says so.
      ...(list.includes("overloaded") ? { headers: { "Retry-After": { type: "integer", description: "seconds to wait (with `overloaded` only)" } } } : {}),
      content: jsonContent(plainSchema(errorBodyOf(list))),
    };
  }
  return out;
}
