/**
 * JSON Schemas (TypeBox) of the gateway's HTTP bodies, so that the OpenAPI document, the tests and the code
 * share one description. The reply encoders build JSON text by hand for speed (see records.ts); the
 * compile-time checks at the end keep these schemas in step with the TypeScript types those encoders follow.
 */
import { Type, type Static } from "@sinclair/typebox";
import type { LinkStatus } from "./edge-bundle.js";
import type { InferenceRecord } from "./records.js";
import type { LogRecord } from "./log-record.js";
import { DEFAULT_LOG_PAGE, LogPagingHeaders, MAX_LOG_PAGE } from "./log-record.js";
import { OutputTypeKeys } from "./tensor-types.js";
import { ErrorCodes, type ErrorCode } from "./errors.js";
import { ErrorBodySchema } from "./status.js";

/** Nanosecond timings: `[0]` decoding the request, then one per pipeline step. */
const Elapsed = Type.Array(Type.Integer({ minimum: 0 }), { description: "ns: [0] decoding the input, then one entry per pipeline step" });

/** One tensor's values for one row: non-finite floats are written as `null`. */
export const OutputTensorSchema = Type.Object({
  data: Type.Array(Type.Union([Type.Number(), Type.Boolean(), Type.String(), Type.Null()]), { description: "the row's values, flattened (NaN and ±Infinity become null)" }),
  dim: Type.Array(Type.Integer({ minimum: 0 }), { description: "the row's shape, `[1, …]` for batched outputs" }),
  v: Type.Integer({ description: "always 1" }),
});

// Anchored alternation of Wallaroo's tensor-type keys (`Float`, `Double`, `Int64`, …), taken from contracts.
const outputKeyPattern = `^(${[...new Set(Object.values(OutputTypeKeys))].join("|")})$`;

/** One entry of a record's `outputs`: exactly one key, the tensor type (`{"Float": {"data","dim","v"}}`). */
export const OutputEntrySchema = Type.Record(Type.String({ pattern: outputKeyPattern }), OutputTensorSchema, {
  minProperties: 1,
  maxProperties: 1,
  additionalProperties: false,
  description: "one model output, keyed by its tensor type",
});

/** One record of an inference reply (`application/json; format=pandas-records`), one per input row. */
export const InferenceRecordSchema = Type.Object({
  check_failures: Type.Array(Type.Integer(), { description: "indices of the validations this row triggered" }),
  elapsed: Elapsed,
  model_name: Type.String({ description: "the pipeline's last step" }),
  model_version: Type.String({ description: "the last step's model version (UUID)" }),
  original_data: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()], {
    description: "the input row, or null when it holds more than 1000 values",
  }),
  outputs: Type.Array(OutputEntrySchema),
  pipeline_name: Type.String(),
  shadow_data: Type.Record(Type.String(), Type.Array(OutputEntrySchema), { description: "shadow model name → its outputs (failed shadows are left out)" }),
  time: Type.Integer({ description: "ms since the epoch" }),
}, { additionalProperties: false });

/** The body of a pandas-records inference reply. */
export const InferenceReplySchema = Type.Array(InferenceRecordSchema);

/** A request row in pandas-records form: column name → scalar or (nested) list of values. */
export const PandasRecordsRequestSchema = Type.Array(Type.Record(Type.String(), Type.Unknown()), {
  description: "one object per row; columns bind to model inputs by name",
});

/** One inference log record, as `POST /logs` returns it. */
export const LogRecordSchema = Type.Object({
  time: Type.Integer({ description: "ms since the epoch" }),
  in: Type.Record(Type.String(), Type.Unknown(), { description: "input column → the row's values (columns in metadata.dropped are left out)" }),
  out: Type.Record(Type.String(), Type.Array(Type.Unknown()), { description: "output name → the row's values (`_model_split` names the answering model of an A/B split)" }),
  anomaly: Type.Object({ count: Type.Integer({ minimum: 0, description: "validations that failed" }) }, {
    additionalProperties: Type.Boolean(),
    description: "`count`, plus one flag per validation",
  }),
  metadata: Type.Object({
    last_model: Type.String({ description: 'JSON text of {"model_name","model_sha"}' }),
    pipeline_version: Type.String(),
    elapsed: Elapsed,
    dropped: Type.Array(Type.String(), { description: "input columns left out of `in` to bound log storage" }),
    partition: Type.String({ description: "the site (edge) name" }),
  }),
}, {
  // Shadow models' outputs sit beside `out`, as `out_<model>`.
  patternProperties: { "^out_": Type.Record(Type.String(), Type.Array(Type.Unknown())) },
});

/** The body of a pandas-records `/logs` reply. */
export const LogReplySchema = Type.Array(LogRecordSchema);

/** A time parameter of `/logs`: RFC 3339 text or ms since the epoch. */
const LogTime = Type.Union([Type.String({ description: "RFC 3339" }), Type.Integer({ description: "ms since the epoch" })]);
const pipelineName = (description: string) => Type.String({ pattern: "^[A-Za-z0-9_-]{1,128}$", description });
const pageSize = (description: string) => Type.Integer({ minimum: 1, default: DEFAULT_LOG_PAGE, description: `${description}; more than ${MAX_LOG_PAGE} reads as ${MAX_LOG_PAGE}` });

/** The `/logs` request body (Wallaroo's central log API parameters; `{}` asks for the latest page). Unknown keys get 400. */
export const LogQueryBodySchema = Type.Object({
  pipeline: Type.Optional(pipelineName("only this pipeline's records")),
  pipeline_name: Type.Optional(pipelineName("alias of pipeline")),
  partition: Type.Optional(Type.String({ minLength: 1, maxLength: 253, description: "only this site's records (on the Ops hub, which holds every edge's)" })),
  start_time: Type.Optional(LogTime),
  end_time: Type.Optional(LogTime),
  page_size: Type.Optional(pageSize("records per page")),
  limit: Type.Optional(pageSize("alias of page_size")),
  order: Type.Optional(Type.String({ pattern: "^([Aa][Ss][Cc]|[Dd][Ee][Ss][Cc])$", default: "Asc", description: "Asc or Desc, any case" })),
  cursor: Type.Optional(Type.String({ description: `the ${LogPagingHeaders.cursor} header of the previous page` })),
}, { additionalProperties: false });

/**
 * The `{"error","code"}` body of every error reply, with `code` narrowed to `codes`; they must all share one
 * HTTP status (ErrorCodes), since an OpenAPI response is per status.
 */
export function errorBodyOf(codes: readonly ErrorCode[]) {
  const statuses = new Set(codes.map((c) => ErrorCodes[c]));
  if (statuses.size !== 1) throw new Error(`error codes ${codes.join(", ")} do not share one HTTP status`);
  return Type.Object({
    error: ErrorBodySchema.properties.error,
    code: Type.Union(codes.map((c) => Type.Literal(c))),
  });
}

/** `x-iteration-status` of a `/logs` reply: `Continue` while more pages follow. */
export const LogIterationStatusSchema = Type.Union([Type.Literal("Continue"), Type.Literal("End")]);

/** The site's link to the Ops hub, as `GET /health` reports it. */
export const LinkStatusSchema = Type.Object({
  joined: Type.Boolean({ description: "false for a site never joined to a hub" }),
  edge: Type.Optional(Type.String()),
  link: Type.Union([Type.Literal("up"), Type.Literal("down"), Type.Literal("standalone"), Type.Literal("revoked"), Type.Literal("lapsed")]),
  last_contact: Type.Optional(Type.Integer({ description: "ms since the epoch of the last answered heartbeat" })),
  detail: Type.Optional(Type.String()),
});

/** `GET /health` body. */
export const HealthReplySchema = Type.Object({
  status: Type.Union([Type.Literal("ok"), Type.Literal("unavailable")], { description: "`unavailable` (with 503) while the site's NATS server is away" }),
  nats: Type.Union([Type.Literal("connected"), Type.Literal("reconnecting")]),
  link: LinkStatusSchema,
});

export type HealthReply = Static<typeof HealthReplySchema>;

/** `GET /ready` body: answered with 200 when `status` is `ready`, else with 503 and the `reasons`. */
export const ReadyReplySchema = Type.Object({
  status: Type.Union([Type.Literal("ready"), Type.Literal("not_ready")]),
  nats: Type.Union([Type.Literal("connected"), Type.Literal("reconnecting")]),
  current: Type.Union([Type.String(), Type.Null()], { description: "the pipeline behind POST /infer; null when nothing says" }),
  inferers: Type.Integer({ minimum: 0, description: "inferers that answered ferry.status" }),
  serving: Type.Integer({ minimum: 0, description: "of those, the ones running the current pipeline" }),
  link: LinkStatusSchema,
  reasons: Type.Array(Type.String(), { description: "why the site is not ready; empty when it is" }),
});

/** Latency of the inference requests of a span of time, ms; `null` when none was answered in it. */
const LatencyMs = Type.Union([Type.Number({ minimum: 0 }), Type.Null()]);

/** One second of the gateway's inference traffic (`POST /infer`, `POST /pipelines/{name}`). */
export const TrafficSecondSchema = Type.Object({
  time: Type.Integer({ description: "start of the second, ms since the epoch" }),
  requests: Type.Integer({ minimum: 0, description: "inference requests answered in that second" }),
  errors: Type.Integer({ minimum: 0, description: "of those, answered with a status of 400 or more" }),
  p50_ms: LatencyMs,
  p99_ms: LatencyMs,
}, { additionalProperties: false });

/**
 * `GET /ui/stats` body: the site's inference traffic for the dashboard, summed over every gateway that
 * answered `ferry.gateway.traffic` (each gateway process of `--gateways N`, each gateway of a cluster).
 * Latency quantiles come from log-spaced buckets (each about 20% wide), merged across gateways, and are
 * the upper bound of the bucket holding the quantile.
 */
export const DashboardStatsSchema = Type.Object({
  now: Type.Integer({ description: "the answering gateway's clock, ms since the epoch" }),
  gateways: Type.Integer({ minimum: 1, description: "gateways whose traffic is summed here (this one included)" }),
  seconds: Type.Array(TrafficSecondSchema, { description: "the last complete seconds, oldest first, seconds without traffic included" }),
  recent: Type.Object({
    span_s: Type.Integer({ minimum: 1, description: "how many of the last complete seconds this summary covers" }),
    requests_per_s: Type.Number({ minimum: 0 }),
    p50_ms: LatencyMs,
    p99_ms: LatencyMs,
  }, { additionalProperties: false }),
  total: Type.Object({
    requests: Type.Integer({ minimum: 0, description: "inference requests the gateways answered since they started" }),
    errors: Type.Integer({ minimum: 0 }),
    since: Type.Integer({ description: "when the earliest of them started counting, ms since the epoch" }),
  }, { additionalProperties: false }),
  nats: Type.Object({
    in_msgs: Type.Integer({ minimum: 0 }),
    out_msgs: Type.Integer({ minimum: 0 }),
    in_bytes: Type.Integer({ minimum: 0 }),
    out_bytes: Type.Integer({ minimum: 0 }),
  }, { additionalProperties: false, description: "the answering gateway's NATS connection counters" }),
}, { additionalProperties: false });

/** One gateway's answer on `ferry.gateway.traffic`: its counts, and its live seconds with their latency buckets. */
export interface TrafficSnapshot {
  /** The gateway's id (random per process). */
  gateway: string;
  since: number;
  requests: number;
  errors: number;
  /** Number of latency buckets: gateways with other buckets are left out of a merge. */
  buckets: number;
  seconds: { second: number; requests: number; errors: number; buckets: number[] }[];
}

/** `GET /ui/stats` body. */
export type DashboardStats = Static<typeof DashboardStatsSchema>;

// Compile-time checks: each schema's static type must fit the hand-written type it documents, so that a field
// added to or retyped in records.ts, log-record.ts or edge-bundle.ts without its schema fails `tsc`.
type Fits<A extends B, B> = A;

/** Compile-time only: fails to type-check when a schema here and the type it documents drift apart. */
export type HttpSchemaChecks = [
  Fits<Static<typeof InferenceRecordSchema>, InferenceRecord>,
  Fits<Static<typeof LogRecordSchema>, LogRecord>,
  Fits<Static<typeof LinkStatusSchema>, LinkStatus>,
  Fits<LinkStatus, Static<typeof LinkStatusSchema>>,
];
