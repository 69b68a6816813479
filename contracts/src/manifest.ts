import { Type, type Static } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { FerryError } from "./errors.js";

const Uuid = Type.String({ pattern: "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$" });
const Name = Type.String({ pattern: "^[A-Za-z0-9_-]{1,128}$", description: "a NATS subject token: letters, digits, _ and -" });

/** JSON schema of one pipeline step. */
export const PipelineStepSchema = Type.Object({
  model: Name,
  version: Uuid,
  file: Type.String({ minLength: 1, description: "path of the .onnx file, relative to the manifest" }),
  sha256: Type.Optional(Type.String({ pattern: "^[0-9a-f]{64}$", description: "checked against the file when given" })),
  inputs: Type.Optional(Type.Record(Type.String(), Type.String(), {
    description: "model input name → column (first step) or previous step's output name; default: same name",
  })),
}, { additionalProperties: false });

/** JSON schema of a deployment manifest: what an inferer needs to serve one pipeline version. */
export const DeploymentManifestSchema = Type.Object({
  pipeline: Name,
  pipeline_version: Uuid,
  steps: Type.Array(PipelineStepSchema, { minItems: 1 }),
  partition: Type.Optional(Type.String()),
}, { additionalProperties: false });

/** One step of a pipeline: a model run on the previous step's outputs. */
export type PipelineStep = Static<typeof PipelineStepSchema>;
/** A deployment manifest. */
export type DeploymentManifest = Static<typeof DeploymentManifestSchema>;

/** Checks a parsed manifest; throws FerryError `bad_request` listing what is wrong. */
export function parseManifest(value: unknown, source = "manifest"): DeploymentManifest {
  if (Value.Check(DeploymentManifestSchema, value)) return value;
  const problems = [...Value.Errors(DeploymentManifestSchema, value)].slice(0, 5)
    .map((e) => `${e.path || "/"}: ${e.message}`);
  throw new FerryError("bad_request", `${source} is not a valid deployment manifest: ${problems.join("; ")}`);
}
