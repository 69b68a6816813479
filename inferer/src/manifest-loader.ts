import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { FerryError, parseManifest, type DeploymentManifest, type PipelineStep } from "@ferry/contracts";

/** A model file of a manifest, read and hashed. */
export interface LoadedModel {
  readonly name: string;
  readonly version: string;
  readonly sha: string;
  readonly path: string;
  readonly bytes: Uint8Array;
}

/** Reads and checks a manifest file. */
export async function readManifestFile(path: string): Promise<{ manifest: DeploymentManifest; baseDir: string }> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new FerryError("bad_request", `cannot read manifest ${path}: ${(err as Error).message}`, { cause: err });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new FerryError("bad_request", `manifest ${path} is not JSON: ${(err as Error).message}`, { cause: err });
  }
  return { manifest: parseManifest(value, path), baseDir: dirname(resolve(path)) };
}

/** sha256 of bytes, lower-case hex. */
export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** A model as a manifest names it (a step, or one of its shadows). */
export type ModelRef = Pick<PipelineStep, "model" | "version" | "file" | "sha256">;

/** Where a model file is: the manifest's `file` relative to its folder, or a cache path by sha256. */
export type ModelLocator = (ref: ModelRef) => Promise<string>;

/** Locates models named by `file`, relative to `baseDir` (a manifest read from disk). */
export function filesBeside(baseDir: string): ModelLocator {
  return async (step) => {
    if (!step.file) throw new FerryError("bad_request", `model ${step.model}: no file given`);
    return resolve(baseDir, step.file);
  };
}

/** A stable UUID-shaped id derived from a hash, for manifests that give no version. */
export function uuidFromHash(hex: string): string {
  const h = sha256(new TextEncoder().encode(hex));
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Reads each step's model file and computes its sha256 (checked against the manifest's when given). */
export async function loadModels(manifest: DeploymentManifest, locate: ModelLocator): Promise<LoadedModel[]> {
  return Promise.all(manifest.steps.map((step) => loadModel(step, locate)));
}

/** Reads one model file and computes its sha256 (checked against the manifest's when given). */
export async function loadModel(step: ModelRef, locate: ModelLocator): Promise<LoadedModel> {
  {
    const path = await locate(step);
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(path));
    } catch (err) {
      throw new FerryError("bad_request", `model ${step.model}: cannot read ${path}: ${(err as Error).message}`, { cause: err });
    }
    const sha = sha256(bytes);
    if (step.sha256 && step.sha256 !== sha) {
      throw new FerryError("bad_request", `model ${step.model}: sha256 of ${path} is ${sha}, manifest says ${step.sha256}`);
    }
    return { name: step.model, version: step.version ?? uuidFromHash(sha), sha, path, bytes };
  }
}
