import { Type, type Static } from "@sinclair/typebox";

/** `Running`, or `Error` when something failed (the reason is in `detail`). */
export const RunStatus = Type.Union([Type.Literal("Running"), Type.Literal("Error")]);

/** A model as `GET /models` lists it. */
export const ModelStatusSchema = Type.Object({
  name: Type.String(),
  sha: Type.String(),
  status: RunStatus,
  version: Type.String(),
  detail: Type.Optional(Type.String()),
});

/** A pipeline as `GET /pipelines` lists it. */
export const PipelineStatusSchema = Type.Object({
  id: Type.String(),
  status: RunStatus,
  version: Type.Optional(Type.String()),
  detail: Type.Optional(Type.String()),
});

/** What one inferer answers on `ferry.status`. */
export interface InfererStatus {
  inferer: string;
  /** The pipeline this inferer serves on `ferry.infer`, if any. */
  current?: string;
  pipelines: (PipelineStatus & { models: ModelStatus[] })[];
  /** Why the inferer cannot follow deployments yet (its stores are not provisioned), while that lasts. */
  detail?: string;
}

export type ModelStatus = Static<typeof ModelStatusSchema>;
export type PipelineStatus = Static<typeof PipelineStatusSchema>;

/** `GET /pipelines` body. */
export const PipelinesReplySchema = Type.Object({ pipelines: Type.Array(PipelineStatusSchema) });
/** `GET /models` body. */
export const ModelsReplySchema = Type.Object({ models: Type.Array(ModelStatusSchema) });
/** Error body of every endpoint. */
export const ErrorBodySchema = Type.Object({ error: Type.String(), code: Type.String() });
