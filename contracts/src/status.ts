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

/** One tensor a pipeline takes or gives: ONNX element type, dims with symbolic ones (e.g. "batch") as -1. */
export interface TensorSignature {
  name: string;
  type: string;
  dims: number[];
}

/** What a pipeline takes (its request columns, in input order) and gives (the last step's outputs, in order). */
export interface PipelineSignature {
  inputs: TensorSignature[];
  outputs: TensorSignature[];
}

/** What one inferer answers on `ferry.status`. */
export interface InfererStatus {
  inferer: string;
  /** The pipeline this inferer serves on `ferry.infer`, if any. */
  current?: string;
  pipelines: (PipelineStatus & { models: ModelStatus[]; signature?: PipelineSignature })[];
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
