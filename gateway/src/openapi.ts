import { readFileSync } from "node:fs";
import type { FastifyInstance } from "fastify";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import { ErrorCodes, HealthReplySchema, InferenceReplySchema, InferenceRecordSchema, LogIterationStatusSchema, LogPagingHeaders, LogQueryBodySchema, LogRecordSchema, LogReplySchema, MediaTypes, ModelsReplySchema, PandasRecordsRequestSchema, PipelinesReplySchema, ReadyReplySchema, DashboardStatsSchema, errorBodyOf, type ErrorCode } from "@ferry/contracts";
import { dashboardOpenApiPaths } from "./dashboard-openapi.js";

/** Where the API documentation is served: the UI at `/docs`, the OpenAPI document at `/docs/json` (and `/docs/yaml`). */
export const DOCS_PREFIX = "/docs";

/** A JSON Schema, as written into the document (plain JSON: TypeBox's symbol keys are dropped). */
export type JsonSchema = Record<string, unknown>;

/** A response of an OpenAPI operation. */
export interface OpenApiResponse {
  description: string;
  headers?: Record<string, { description: string; schema: JsonSchema }>;
  content?: Record<string, { schema: JsonSchema }>;
}

/** An OpenAPI operation (only the fields Ferry's document uses). */
export interface OpenApiOperation {
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  parameters?: { name: string; in: "path" | "header"; required: boolean; description: string; schema: JsonSchema }[];
  requestBody?: { required: boolean; description: string; content: Record<string, { schema: JsonSchema }> };
  responses: Record<string, OpenApiResponse>;
}

/** Ferry's OpenAPI 3.1 document. */
export interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string; description: string };
  tags: { name: string; description: string }[];
  paths: Record<string, Partial<Record<"get" | "post", OpenApiOperation>>>;
  components: { schemas: Record<string, JsonSchema>; responses: Record<string, OpenApiResponse> };
}

// Shared schemas live under components so the UI lists them once; operations point at them.
const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
const binary: JsonSchema = { type: "string", format: "binary" };
/** Prometheus' text format, as prom-client labels it. */
const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4";

/** When each code is answered (the README's error table, per code). */
const codeNotes: Partial<Record<ErrorCode, string>> = {
  bad_json: "malformed JSON",
  bad_records: "pandas-records that is not an array of objects",
  bad_arrow: "corrupt, truncated or hostile Arrow",
  bad_request: "a bad parameter or header",
  not_found: "no such route",
  unknown_pipeline: "no such pipeline",
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

/** One response per HTTP status for `codes`, each with the error body narrowed to that status's codes. */
function errorResponses(codes: readonly ErrorCode[]): Record<string, OpenApiResponse> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) byStatus.set(ErrorCodes[code], [...(byStatus.get(ErrorCodes[code]) ?? []), code]);
  const out: Record<string, OpenApiResponse> = {};
  for (const [status, list] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    out[String(status)] = {
      description: list.map((c) => `\`${c}\`${codeNotes[c] ? `: ${codeNotes[c]}` : ""}`).join("; "),
      // Only `overloaded` sets Retry-After; OpenAPI cannot tie a header to one code, so the description says so.
      ...(list.includes("overloaded") ? { headers: { "Retry-After": { description: "seconds to wait (with `overloaded` only)", schema: { type: "integer" } } } } : {}),
      content: { [MediaTypes.json]: { schema: errorBodyOf(list) } },
    };
  }
  return out;
}

// What each endpoint can answer besides 200, from the code paths behind it (gateway, inferer, logger).
const inferenceErrors: ErrorCode[] = [
  "bad_json", "bad_records", "bad_arrow", "bad_request", "not_acceptable", "payload_too_large", "unsupported_media_type",
  "missing_input", "bad_shape", "bad_input_type", "inference_failed", "internal", "bad_gateway", "no_inferer",
  "pipeline_not_ready", "overloaded", "inferer_timeout",
];
const logsErrors: ErrorCode[] = ["bad_json", "bad_request", "not_acceptable", "payload_too_large", "internal", "bad_gateway", "logs_unavailable", "inferer_timeout"];

const json = (schema: JsonSchema): { schema: JsonSchema } => ({ schema });

const inferenceRequest: OpenApiOperation["requestBody"] = {
  required: true,
  description: "Rows to infer. Columns bind to model inputs by name (a single-input model takes the only column whatever its name); "
    + "scalars or lists of numbers, nested as deep as needed. Plain `application/json` is read as pandas-records too.",
  content: {
    [MediaTypes.arrowFile]: json(binary),
    [MediaTypes.arrowStream]: json(binary),
    [MediaTypes.pandasRecords]: json(ref("PandasRecordsRequest")),
  },
};

const inferenceHeaders: NonNullable<OpenApiOperation["parameters"]> = [
  { name: "Ferry-Request-Id", in: "header", required: false, description: "an id passed on to the inferer", schema: { type: "string" } },
  { name: "Ferry-Split-Key", in: "header", required: false, description: "the key an A/B split routes by (the same key always reaches the same model)", schema: { type: "string" } },
];

const inferenceReply: OpenApiResponse = {
  description: "One record per input row. `Accept: application/vnd.apache.arrow.file` (or `.stream`) returns the same records as an Arrow "
    + "file: scalar columns `time`, `pipeline_name`, `model_name`, `model_version`; list columns `elapsed`, `check_failures`; "
    + "JSON-text columns `original_data`, `shadow_data`; one list column `out.<output name>` per output. "
    + "Absent `Accept`, `*/*` or JSON gives pandas-records.",
  content: { [MediaTypes.pandasRecords]: json(ref("InferenceReply")), [MediaTypes.arrowFile]: json(binary) },
};

function inference(operationId: string, summary: string, description: string, extra: Partial<OpenApiOperation> = {}): OpenApiOperation {
  return {
    operationId, summary, description, tags: ["inference"],
    parameters: [...(extra.parameters ?? []), ...inferenceHeaders],
    requestBody: inferenceRequest,
    responses: { 200: inferenceReply, ...errorResponses(inferenceErrors), ...extra.responses },
  };
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;
  } catch {
    return "0.0.0";
  }
}

/** Builds the OpenAPI 3.1 document of the gateway's HTTP API from contracts' schemas (a fresh plain-JSON copy each call). */
export function openApiDocument(): OpenApiDocument {
  const doc: OpenApiDocument = {
    openapi: "3.1.0",
    info: {
      title: "Ferry gateway",
      version: packageVersion(),
      description: "Wallaroo-compatible edge inference API. Errors are always JSON `{\"error\", \"code\"}`; "
        + "an unknown route answers 404 `not_found`.",
    },
    tags: [
      { name: "status", description: "what the site serves" },
      { name: "inference", description: "run a pipeline" },
      { name: "logs", description: "inference logs" },
      { name: "operations", description: "liveness, readiness and metrics" },
    ],
    paths: {
      "/pipelines": {
        get: {
          operationId: "listPipelines", summary: "List pipelines", tags: ["status"],
          description: "`Running`, or `Error` with a `detail` (model failed to load, or no inferer serves it). Answers within about a second even when no inferer runs.",
          responses: { 200: { description: "the site's pipelines", content: { [MediaTypes.json]: json(ref("PipelinesReply")) } }, ...errorResponses(["internal"]) },
        },
      },
      "/models": {
        get: {
          operationId: "listModels", summary: "List models", tags: ["status"],
          description: "The models of the running inferers; `sha` is the sha256 of the model file.",
          responses: { 200: { description: "the site's models", content: { [MediaTypes.json]: json(ref("ModelsReply")) } }, ...errorResponses(["internal"]) },
        },
      },
      "/infer": {
        post: inference("infer", "Infer with the site's current pipeline", "Always points at the currently deployed pipeline."),
      },
      "/pipelines/{name}": {
        post: inference("inferPipeline", "Infer with a named pipeline", "`name` is an `id` from `GET /pipelines`.", {
          parameters: [{ name: "name", in: "path", required: true, description: "the pipeline's id", schema: { type: "string" } }],
          responses: errorResponses(["unknown_pipeline"]),
        }),
      },
      "/logs": {
        post: {
          operationId: "logs", summary: "Read inference logs", tags: ["logs"],
          description: "`{}` returns the latest 1000 records, oldest first. Any `Content-Type` is accepted (the body is read as JSON). "
            + `Paging state comes in the \`${LogPagingHeaders.cursor}\` and \`${LogPagingHeaders.status}\` headers; send the cursor back as \`cursor\`.`,
          requestBody: { required: false, description: "query parameters; empty or `{}` for the latest page", content: { [MediaTypes.json]: json(ref("LogQuery")) } },
          responses: {
            200: {
              description: "Log records. `Accept: application/vnd.apache.arrow.file` returns an Arrow table (`time`, `anomaly.count`, `metadata.*` typed; `in`, `out`, `anomaly` as JSON text).",
              headers: {
                [LogPagingHeaders.cursor]: { description: "send back as `cursor` for the next page", schema: { type: "string" } },
                [LogPagingHeaders.status]: { description: "`Continue` while more pages follow, else `End`", schema: LogIterationStatusSchema },
              },
              content: { [MediaTypes.pandasRecords]: json(ref("LogReply")), [MediaTypes.arrowFile]: json(binary) },
            },
            ...errorResponses(logsErrors),
          },
        },
      },
      "/health": {
        get: {
          operationId: "health", summary: "Liveness", tags: ["operations"],
          description: "200 while the gateway runs, with the state of its NATS connection and of the link to the Ops hub on an edge.",
          responses: { 200: { description: "the gateway is alive", content: { [MediaTypes.json]: json(ref("HealthReply")) } } },
        },
      },
      "/ready": {
        get: {
          operationId: "ready", summary: "Readiness", tags: ["operations"],
          description: "200 when NATS is connected and an inferer runs the site's current pipeline; else 503 with the same body and its `reasons`. A hub link that is down does not make an edge unready.",
          responses: {
            200: { description: "ready", content: { [MediaTypes.json]: json(ref("ReadyReply")) } },
            503: { description: "not ready (the body says why; not an error body)", content: { [MediaTypes.json]: json(ref("ReadyReply")) } },
          },
        },
      },
      "/metrics": {
        get: {
          operationId: "metrics", summary: "Metrics", tags: ["operations"],
          description: "Prometheus text exposition format: the gateway's own metrics merged with those the site's other services answer.",
          responses: { 200: { description: "the site's metrics", content: { [METRICS_CONTENT_TYPE]: json({ type: "string" }) } } },
        },
      },
      ...dashboardOpenApiPaths(),
    },
    components: {
      schemas: {
        PipelinesReply: PipelinesReplySchema, ModelsReply: ModelsReplySchema, HealthReply: HealthReplySchema, ReadyReply: ReadyReplySchema,
        PandasRecordsRequest: PandasRecordsRequestSchema,
        InferenceReply: { ...InferenceReplySchema, items: ref("InferenceRecord") }, InferenceRecord: InferenceRecordSchema,
        LogQuery: LogQueryBodySchema, LogReply: { ...LogReplySchema, items: ref("LogRecord") }, LogRecord: LogRecordSchema,
        DashboardStats: DashboardStatsSchema,
      },
      responses: { NotFound: errorResponses(["not_found"])["404"]! },
    },
  };
  // A JSON round trip drops TypeBox's symbol keys and unshares nested objects, so nobody can mutate contracts' schemas through it.
  return JSON.parse(JSON.stringify(doc)) as OpenApiDocument;
}

/**
 * Serves the API documentation: @fastify/swagger in static mode (the document is built from contracts'
 * schemas, so the routes keep their definitions and no request validation is added), and Swagger UI from the
 * npm package's own files (no CDN: edge sites are often offline).
 */
export function registerOpenApi(app: FastifyInstance): void {
  // The types of @fastify/swagger's static mode only name OpenAPI 2 and 3.0 documents; 3.1 is served as is.
  void app.register(swagger, { mode: "static", specification: { document: openApiDocument() as never } });
  void app.register(swaggerUi, {
    routePrefix: DOCS_PREFIX,
    theme: { title: "Ferry gateway API" },
    // Explicit, though the plugin defaults to it: Swagger UI's own default sends the document to validator.swagger.io.
    validatorUrl: false,
    // A CSP that lets the page load nothing from elsewhere, so an external asset would show up as a broken page.
    staticCSP: "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'self'",
  });
}
