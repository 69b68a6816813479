import type { FastifyInstance } from "fastify";
import { DashboardStatsSchema, HealthReplySchema, InferenceRecordSchema, InferenceReplySchema, LogQueryBodySchema, LogRecordSchema, LogReplySchema, ModelsReplySchema, PandasRecordsRequestSchema, PipelinesReplySchema, ReadyReplySchema } from "@ferry/contracts";
import { plainSchema, type JsonSchema } from "./openapi-responses.js";

/**
 * Contracts' schemas that routes share, by the name they have under the document's `components.schemas`
 * (the UI lists each once; operations point at them). Arrays of records point at the record's schema.
 */
const sharedSchemas = {
  PipelinesReply: plainSchema(PipelinesReplySchema),
  ModelsReply: plainSchema(ModelsReplySchema),
  HealthReply: plainSchema(HealthReplySchema),
  ReadyReply: plainSchema(ReadyReplySchema),
  PandasRecordsRequest: plainSchema(PandasRecordsRequestSchema),
  InferenceRecord: plainSchema(InferenceRecordSchema),
  InferenceReply: { ...plainSchema(InferenceReplySchema), items: { $ref: "InferenceRecord#" } },
  LogQuery: plainSchema(LogQueryBodySchema),
  LogRecord: plainSchema(LogRecordSchema),
  LogReply: { ...plainSchema(LogReplySchema), items: { $ref: "LogRecord#" } },
  DashboardStats: plainSchema(DashboardStatsSchema),
} satisfies Record<string, JsonSchema>;

export type SharedSchemaName = keyof typeof sharedSchemas;

/** A reference to a shared schema, as a route schema writes it (Fastify resolves it; the document points at its component). */
export const schemaRef = (name: SharedSchemaName): JsonSchema => ({ $ref: `${name}#` });

/** A reference to a shared schema from a hand-written part of the document. */
export const componentRef = (name: SharedSchemaName): JsonSchema => ({ $ref: `#/components/schemas/${name}` });

/**
 * Adds the shared schemas the app lacks (with `$id` = their name), so that route schemas can refer to
 * them; idempotent, so a route module can make sure of them on an app of its own (the dashboard's test).
 */
export function addSharedSchemas(app: FastifyInstance): void {
  for (const [name, schema] of Object.entries(sharedSchemas)) if (!app.getSchema(name)) app.addSchema({ $id: name, ...schema });
}

/**
 * The shared schemas as contracts write them, for the document's components: @fastify/swagger converts
 * schemas for OpenAPI 3.0 (e.g. `patternProperties` becomes `additionalProperties`), which a 3.1 document,
 * being JSON Schema 2020-12, does not need. Those with references keep the converted form, whose
 * references point into the document.
 */
export function verbatimComponents(): Record<string, JsonSchema> {
  return Object.fromEntries(Object.entries(sharedSchemas).filter(([, s]) => !JSON.stringify(s).includes('"$ref"')).map(([name, s]) => [name, plainSchema(s)]));
}
