import { MediaTypes, type ErrorCode } from "@ferry/contracts";
import { binary, errorResponses, type JsonSchema, type RouteResponse } from "../openapi-responses.js";
import { componentRef, schemaRef } from "../openapi-schemas.js";
import type { ForwardingDoc } from "../openapi.js";

/** What an inference request can answer besides 200, from the code paths behind it (gateway, inferer). */
const inferenceErrors: ErrorCode[] = [
  "bad_json", "bad_records", "bad_arrow", "bad_request", "empty_body", "not_acceptable", "payload_too_large", "unsupported_media_type",
  "missing_input", "bad_shape", "bad_input_type", "inference_failed", "internal", "bad_gateway", "no_inferer",
  "pipeline_not_ready", "overloaded", "inferer_timeout",
];

/** The request body and headers of an inference request: forwarded bytes, so documented by hand. */
const forwarding: ForwardingDoc = {
  requestBody: {
    required: true,
    description: "Rows to infer. Columns bind to model inputs by name (a single-input model takes the only column whatever its name); "
      + "scalars or lists of numbers, nested as deep as needed. Plain `application/json` is read as pandas-records too.",
    content: {
      [MediaTypes.arrowFile]: { schema: binary },
      [MediaTypes.arrowStream]: { schema: binary },
      [MediaTypes.pandasRecords]: { schema: componentRef("PandasRecordsRequest") },
    },
  },
  parameters: [
    { name: "Ferry-Request-Id", in: "header", required: false, description: "an id passed on to the inferer", schema: { type: "string" } },
    { name: "Ferry-Split-Key", in: "header", required: false, description: "the key an A/B split routes by (the same key always reaches the same model)", schema: { type: "string" } },
  ],
};

const inferenceReply: RouteResponse = {
  description: "One record per input row. `Accept: application/vnd.apache.arrow.file` (or `.stream`) returns the same records as an Arrow "
    + "file: scalar columns `time`, `pipeline_name`, `model_name`, `model_version`; list columns `elapsed`, `check_failures`; "
    + "JSON-text columns `original_data`, `shadow_data`; one list column `out.<output name>` per output. "
    + "Absent `Accept`, `*/*` or JSON gives pandas-records.",
  content: { [MediaTypes.pandasRecords]: { schema: schemaRef("InferenceReply") }, [MediaTypes.arrowFile]: { schema: binary } },
};

/** The schema and documentation of an inference route (the reply is forwarded bytes: sent as a Buffer, never serialized). */
export function inferenceRoute(operationId: string, summary: string, description: string, more: { params?: JsonSchema; errors?: ErrorCode[] } = {}) {
  return {
    schema: {
      operationId, summary, description, tags: ["inference"],
      ...(more.params ? { params: more.params } : {}),
      response: { 200: inferenceReply, ...errorResponses([...inferenceErrors, ...more.errors ?? []]) },
    },
    config: { forwarding },
  };
}
