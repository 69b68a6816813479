import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { Readable } from "node:stream";
import { FerryError, SiteKeys, modelsOfStep, parseDeployedManifest, parseManifest, type DeployedManifest, type DeploymentManifest } from "@ferry/contracts";
import { contentOf, knownVersions, pipelineVersion, versionedSteps } from "./versions.js";
import type { DeploymentStores } from "@ferry/runtime";

/** Called as a model file uploads: bytes sent so far of `total`. */
export type UploadProgress = (model: string, sent: number, total: number) => void;

async function fileSha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Uploads a model file under its sha256 unless the store has it already; resolves whether it uploaded. */
export async function uploadModel(stores: DeploymentStores, model: string, path: string, sha: string, progress?: UploadProgress): Promise<boolean> {
  const existing = await stores.models.info(sha);
  if (existing && !existing.deleted) return false;
  const total = (await stat(path)).size;
  let sent = 0;
  const counting = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      sent += chunk.length;
      progress?.(model, sent, total);
      controller.enqueue(chunk);
    },
  });
  const source = Readable.toWeb(createReadStream(path)) as ReadableStream<Uint8Array>;
  await stores.models.put({ name: sha, description: `${model} (onnx)` }, source.pipeThrough(counting));
  return true;
}

/** The manifest currently deployed under `pipeline`, if any. */
export async function deployedManifest(stores: DeploymentStores, pipeline: string): Promise<DeployedManifest | undefined> {
  const entry = await stores.deployments.get(pipeline);
  if (!entry || entry.operation !== "PUT" || entry.length === 0) return undefined;
  return parseDeployedManifest(entry.json<unknown>(), `deployment ${pipeline}`);
}

/** What a publish did. */
export interface PublishResult {
  manifest: DeployedManifest;
  /** False when `onlyIfChanged` found the same models deployed. */
  changed: boolean;
  uploaded: string[];
}

/** Options of a publish. */
export interface PublishOptions {
  progress?: UploadProgress;
  /** Keep the deployed version when every step's model and file are the same (used at site start). */
  onlyIfChanged?: boolean;
}

/**
 * Publishes a manifest file: uploads its models to the object store (by sha256, skipped when there) and
 * writes the manifest to the deployments bucket with its `pipeline_version` (a fresh one when it gives none).
 */
export async function publishManifestFile(stores: DeploymentStores, path: string, options: PublishOptions = {}): Promise<PublishResult> {
  const manifest = parseManifest(JSON.parse(await readFile(path, "utf8")) as unknown, path);
  const baseDir = dirname(resolve(path));
  const uploaded: string[] = [];
  const stored = async <T extends { model: string; file?: string; sha256?: string }>(ref: T): Promise<T & { sha256: string }> => {
    if (!ref.file) return { ...ref, sha256: ref.sha256! };
    const file = resolve(baseDir, ref.file);
    const sha = await fileSha256(file);
    if (ref.sha256 && ref.sha256 !== sha) throw new FerryError("bad_request", `model ${ref.model}: sha256 of ${file} is ${sha}, manifest says ${ref.sha256}`);
    if (await uploadModel(stores, ref.model, file, sha, options.progress)) uploaded.push(ref.model);
    return { ...ref, sha256: sha };
  };
  const steps = [];
  for (const step of manifest.steps) {
    const shadows = step.shadows ? await Promise.all(step.shadows.map(stored)) : undefined;
    const split = step.split ? { ...step.split, arms: await Promise.all(step.split.arms.map(stored)) } : undefined;
    const own = split ? step : await stored(step);
    steps.push({ ...own, ...(shadows ? { shadows } : {}), ...(split ? { split } : {}) });
  }
  const result = await deployManifest(stores, { ...manifest, steps }, options.onlyIfChanged ?? false);
  return { ...result, uploaded };
}

/**
 * Deploys a manifest whose steps name models by sha256, all already in the object store (what the Ops
 * hub sends over `ferry.deploy`).
 */
export async function deployManifest(stores: DeploymentStores, manifest: DeploymentManifest, onlyIfChanged = false): Promise<{ manifest: DeployedManifest; changed: boolean }> {
  for (const step of manifest.steps.flatMap((s) => modelsOfStep(s))) {
    if (!step.sha256) throw new FerryError("bad_request", `model ${step.model}: a deployed step needs its sha256`);
    const info = await stores.models.info(step.sha256);
    if (!info || info.deleted) throw new FerryError("bad_request", `model ${step.model}: object ${step.sha256} is not in the model store`);
  }
  const previous = await deployedManifest(stores, manifest.pipeline).catch(() => undefined);
  const same = previous !== undefined && contentOf(previous) === contentOf(manifest) &&
    (manifest.pipeline_version === undefined || manifest.pipeline_version === previous.pipeline_version);
  if (onlyIfChanged && same) return { manifest: previous, changed: false };
  const known = await knownVersions(stores, manifest.pipeline);
  const deployed: DeployedManifest = {
    ...manifest,
    pipeline_version: pipelineVersion(known, manifest),
    steps: versionedSteps(known, manifest.pipeline, manifest.steps),
  };
  await stores.deployments.put(manifest.pipeline, JSON.stringify(deployed));
  return { manifest: deployed, changed: true };
}

/** Removes a pipeline's deployment; inferers stop serving it. */
export async function undeploy(stores: DeploymentStores, pipeline: string): Promise<void> {
  if (!(await deployedManifest(stores, pipeline))) throw new FerryError("unknown_pipeline", `pipeline ${pipeline} is not deployed`);
  await stores.deployments.delete(pipeline);
}

/** The pipelines deployed on the site, by name. */
export async function deployedPipelines(stores: DeploymentStores): Promise<string[]> {
  const names: string[] = [];
  for await (const key of await stores.deployments.keys()) {
    // A key whose last entry is a delete marker may still be listed: only a readable manifest counts.
    if (await deployedManifest(stores, key).catch(() => undefined)) names.push(key);
  }
  return names.sort();
}

/**
 * Sets the site's current pipeline (the one behind `POST /infer`). A pipeline that is not deployed is
 * refused (404 `unknown_pipeline`, naming the deployed ones): a typo would otherwise take `/infer` down.
 */
export async function setCurrentPipeline(stores: DeploymentStores, pipeline: string): Promise<void> {
  if (!(await deployedManifest(stores, pipeline).catch(() => undefined))) {
    const deployed = await deployedPipelines(stores);
    throw new FerryError("unknown_pipeline", `pipeline ${JSON.stringify(pipeline)} is not deployed, so it cannot be current; ` +
      `deployed: ${deployed.length > 0 ? deployed.join(", ") : "none (deploy one first: ferry deploy MANIFEST)"}`);
  }
  await stores.site.put(SiteKeys.current, pipeline);
}

/** The site's current pipeline from the site bucket, if set. */
export async function currentPipeline(stores: DeploymentStores): Promise<string | undefined> {
  const entry = await stores.site.get(SiteKeys.current);
  return entry && entry.operation === "PUT" && entry.length > 0 ? entry.string() : undefined;
}
