import type { ErrorCode } from "@ferry/contracts";
import { binary, errorResponses, jsonContent, type JsonSchema, type RouteResponse } from "../openapi-responses.js";
import type { ForwardingDoc } from "../openapi.js";

const tensorMetadata: JsonSchema = {
  type: "object", required: ["name", "datatype", "shape"],
  properties: { name: { type: "string" }, datatype: { type: "string" }, shape: { type: "array", items: { type: "integer" } } },
};

/** `GET /v2/models/{name}` body. */
export const modelMetadataSchema: JsonSchema = {
  type: "object", required: ["name", "versions", "platform", "inputs", "outputs"],
  properties: {
    name: { type: "string" }, versions: { type: "array", items: { type: "string" } }, platform: { type: "string" },
    inputs: { type: "array", items: tensorMetadata }, outputs: { type: "array", items: tensorMetadata },
  },
};

/** `GET /v2` body. */
export const serverMetadataSchema: JsonSchema = {
  type: "object", required: ["name", "version", "extensions"],
  properties: { name: { type: "string" }, version: { type: "string" }, extensions: { type: "array", items: { type: "string" } } },
};

/**
 * A health answer: 200 when true, 400 when false (the protocol's convention), with the boolean in the body too.
 * Liveness is always true (an answer is the proof), so it documents only its 200.
 */
export function healthResponses(key: "live" | "ready", extra: JsonSchema = {}): Record<string, RouteResponse> {
  const schema = { type: "object", required: [key], properties: { [key]: { type: "boolean" }, ...extra } };
  const ok = { 200: { description: `${key}`, content: jsonContent(schema) } };
  return key === "live" ? ok : { ...ok, 400: { description: `not ${key} (not an error body)`, content: jsonContent(schema) } };
}

/** The path parameters of the model routes. */
export const modelParams = (versioned: boolean): JsonSchema => ({
  type: "object",
  properties: { name: { type: "string", description: "a pipeline id" }, ...(versioned ? { version: { type: "string", description: "the pipeline version" } } : {}) },
  required: versioned ? ["name", "version"] : ["name"],
});

const v2InferErrors: ErrorCode[] = [
  "bad_json", "bad_request", "bad_tensor", "empty_body", "unknown_model", "unknown_version", "payload_too_large",
  "inference_failed", "internal", "bad_gateway", "no_inferer", "pipeline_not_ready", "overloaded", "inferer_timeout", "logs_unavailable",
];

const tensorSchema: JsonSchema = {
  type: "object", required: ["name", "datatype", "shape"],
  properties: {
    name: { type: "string" }, datatype: { type: "string" }, shape: { type: "array", items: { type: "integer" } },
    data: { description: "row-major values (flat or nested); absent when parameters.binary_data_size is set" },
    parameters: { type: "object" },
  },
};

/** The V2 inference request: JSON, or JSON then raw tensors (binary data extension). */
export const v2InferForwarding: ForwardingDoc = {
  requestBody: {
    required: true,
    description: "`{\"id\", \"parameters\", \"inputs\": [tensor], \"outputs\": [{\"name\", \"parameters\"}]}`. With `Inference-Header-Content-Length: N`, "
      + "the first N bytes are that JSON and the rest the raw little-endian data of each input with a `binary_data_size` parameter, in order. "
      + "`parameters.binary_data_output: true` (or an output's `binary_data: true`) returns outputs the same way.",
    content: {
      "application/json": { schema: { type: "object", required: ["inputs"], properties: { id: { type: "string" }, inputs: { type: "array", items: tensorSchema }, outputs: { type: "array" }, parameters: { type: "object" } } } },
      "application/octet-stream": { schema: binary },
    },
  },
  parameters: [
    { name: "Inference-Header-Content-Length", in: "header", required: false, description: "bytes of JSON before the raw tensor data (binary data extension)", schema: { type: "integer" } },
    { name: "Ferry-Split-Key", in: "header", required: false, description: "the key an A/B split routes by", schema: { type: "string" } },
    { name: "Ferry-Request-Id", in: "header", required: false, description: "an id passed on to the inferer", schema: { type: "string" } },
  ],
};

/** The V2 inference response, and its errors. */
export const v2InferResponses: Record<string, RouteResponse> = {
  200: {
    description: "`{\"model_name\", \"model_version\", \"id\", \"parameters\", \"outputs\": [tensor]}`; `parameters` holds `check_failures` and `shadow_data` "
      + "(JSON text, one entry per row) and `step_model`/`step_model_version` (the model that answered). With binary outputs, "
      + "`application/octet-stream`: the JSON, then the raw outputs, and `Inference-Header-Content-Length`.",
    headers: { "Inference-Header-Content-Length": { type: "integer", description: "bytes of JSON before the raw outputs (binary outputs only)" } },
    content: { "application/json": { schema: { type: "object", required: ["model_name", "outputs"], properties: { model_name: { type: "string" }, outputs: { type: "array", items: tensorSchema } } } }, "application/octet-stream": { schema: binary } },
  },
  ...errorResponses(v2InferErrors),
};
