import { Type, type Static } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { FerryError } from "./errors.js";
import { compileExpression } from "./expressions.js";

const Uuid = Type.String({ pattern: "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$" });
const Name = Type.String({ pattern: "^[A-Za-z0-9_-]{1,128}$", description: "a NATS subject token: letters, digits, _ and -" });

/** A model named by file (a manifest on disk) or by sha256 (deployed). */
const ModelRef = {
  model: Name,
  version: Type.Optional(Uuid),
  file: Type.Optional(Type.String({ minLength: 1, description: "path of the .onnx file, relative to the manifest; deployed manifests name models by sha256 instead" })),
  sha256: Type.Optional(Type.String({ pattern: "^[0-9a-f]{64}$", description: "the model file's sha256: checked against the file, and its name in the object store" })),
};

/** A shadow (challenger) model: runs on the step's input; its outputs are reported, never returned as the result. */
export const ShadowSchema = Type.Object(ModelRef, { additionalProperties: false });

/** One arm of an A/B split: a model and its share of the traffic. */
export const SplitArmSchema = Type.Object({ ...ModelRef, weight: Type.Number({ exclusiveMinimum: 0, default: 1 }) }, { additionalProperties: false });

/**
 * An A/B split (Wallaroo's `add_random_split`): each request goes to one arm, at random by weight, or by a
 * hash of a key (a column's value in the request's first row, or its `Ferry-Split-Key` header) so that
 * one session always lands on the same model.
 */
export const SplitSchema = Type.Object({
  arms: Type.Array(SplitArmSchema, { minItems: 2 }),
  key_column: Type.Optional(Type.String({ minLength: 1 })),
  key_header: Type.Optional(Type.Boolean({ description: "route by the request's Ferry-Split-Key header" })),
}, { additionalProperties: false });

/** JSON schema of one pipeline step. */
export const PipelineStepSchema = Type.Object({
  model: Name,
  version: Type.Optional(Uuid),
  file: Type.Optional(Type.String({ minLength: 1, description: "path of the .onnx file, relative to the manifest; deployed manifests name models by sha256 instead" })),
  sha256: Type.Optional(Type.String({ pattern: "^[0-9a-f]{64}$", description: "the model file's sha256: checked against the file, and its name in the object store" })),
  inputs: Type.Optional(Type.Record(Type.String(), Type.String(), {
    description: "model input name → column (first step) or previous step's output name; default: same name",
  })),
  shadows: Type.Optional(Type.Array(ShadowSchema, { description: "challenger models run on the same input; outputs under shadow_data" })),
  split: Type.Optional(SplitSchema),
}, { additionalProperties: false });

function BatchingSchema() {
  return Type.Object({
    window_ms: Type.Optional(Type.Number({ minimum: 0, maximum: 1000, description: "wait this long after a request for others to join its run, ms; 0 merges only requests that arrive together" })),
    max_batch: Type.Optional(Type.Integer({ minimum: 1, maximum: 4096, description: "most requests merged into one run" })),
  }, { additionalProperties: false });
}

/** JSON schema of a deployment manifest: what an inferer needs to serve one pipeline version. */
export const DeploymentManifestSchema = Type.Object({
  pipeline: Name,
  pipeline_version: Type.Optional(Uuid),
  steps: Type.Array(PipelineStepSchema, { minItems: 1 }),
  validations: Type.Optional(Type.Record(Type.String({ pattern: "^[A-Za-z_][A-Za-z0-9_]{0,63}$" }), Type.String({ minLength: 1, maxLength: 1000 }), {
    description: "name → boolean expression over the last step's outputs; true marks the record as an anomaly",
  })),
  partition: Type.Optional(Type.String()),
  batching: Type.Optional(Type.Union([Type.Literal(false), BatchingSchema()], {
    description: "how the inferer merges concurrent requests into one session run; false: never (default: the inferer's setting)",
  })),
}, { additionalProperties: false });

/** Batching settings of a pipeline, as a manifest declares them. */
export type BatchingSettings = { window_ms?: number; max_batch?: number };

/** One step of a pipeline: a model run on the previous step's outputs. */
export type PipelineStep = Static<typeof PipelineStepSchema>;
/** A deployment manifest. */
export type DeploymentManifest = Static<typeof DeploymentManifestSchema>;

/** A shadow model as declared. */
export type Shadow = Static<typeof ShadowSchema>;
/** An A/B split as declared. */
export type Split = Static<typeof SplitSchema>;
/** A model as deployed: named by sha256 (the object store's key), with a version. */
export type DeployedShadow = Shadow & { version: string; sha256: string };
/** A step as deployed: its models named by sha256, with versions. */
export type DeployedStep = Omit<PipelineStep, "shadows" | "split"> & {
  /** The step's model (absent on a split step, whose arms name the models). */
  version?: string; sha256?: string; shadows?: DeployedShadow[];
  split?: Omit<Split, "arms"> & { arms: (DeployedShadow & { weight: number })[] };
};

/** Every model a step names: itself (unless it is a split), its split's arms, its shadows. */
export function modelsOfStep<T extends { model: string; file?: string; sha256?: string; shadows?: readonly unknown[]; split?: { arms: readonly unknown[] } }>(step: T): { model: string; file?: string; sha256?: string; version?: string }[] {
  const refs = [...((step.split?.arms ?? []) as { model: string }[]), ...((step.shadows ?? []) as { model: string }[])];
  return step.split ? refs : [step, ...refs];
}
/** A manifest as stored in the deployments bucket. */
export type DeployedManifest = Omit<DeploymentManifest, "steps" | "pipeline_version"> & { pipeline_version: string; steps: DeployedStep[] };

/** Checks a parsed manifest; throws FerryError `bad_request` listing what is wrong. */
export function parseManifest(value: unknown, source = "manifest"): DeploymentManifest {
  if (Value.Check(DeploymentManifestSchema, value)) {
    const noModel = value.steps.flatMap((s) => modelsOfStep(s)).find((s) => !s.file && !s.sha256);
    if (noModel) throw new FerryError("bad_request", `${source}: model ${noModel.model} names neither a file nor a sha256`);
    for (const [name, source_] of Object.entries(value.validations ?? {})) {
      try {
        compileExpression(source_);
      } catch (err) {
        throw new FerryError("bad_request", `${source}: validation ${name}: ${(err as Error).message}`, { cause: err });
      }
    }
    return value;
  }
  const problems = [...Value.Errors(DeploymentManifestSchema, value)].slice(0, 5)
    .map((e) => `${e.path || "/"}: ${e.message}`);
  throw new FerryError("bad_request", `${source} is not a valid deployment manifest: ${problems.join("; ")}`);
}

/** Checks a manifest read from the deployments bucket: every step has a version and a sha256. */
export function parseDeployedManifest(value: unknown, source = "deployed manifest"): DeployedManifest {
  const m = parseManifest(value, source);
  if (!m.pipeline_version || m.steps.flatMap((s) => modelsOfStep(s)).some((s) => !s.version || !s.sha256)) {
    throw new FerryError("bad_request", `${source}: a deployed manifest needs pipeline_version and, per step, version and sha256`);
  }
  return m as DeployedManifest;
}
