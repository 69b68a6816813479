import { randomUUID } from "node:crypto";
import { FerryError, modelsOfStep, parseDeployedManifest, type DeployedManifest, type DeployedStep, type DeploymentManifest, type PipelineStep } from "@ferry/contracts";
import type { DeploymentStores } from "@ferry/runtime";

/**
 * What a manifest runs, as compared between versions: models and files, bindings, splits, validations,
 * batching. (Inferers swap only when `pipeline_version` changes, so one version must mean one content.)
 */
export function contentOf(m: DeploymentManifest): string {
  return JSON.stringify({
    steps: m.steps.map((s) => ({
      model: s.model, sha256: s.sha256, inputs: s.inputs ?? {}, shadows: (s.shadows ?? []).map((x) => [x.model, x.sha256]),
      split: s.split ? { ...s.split, arms: s.split.arms.map((a) => [a.model, a.sha256, a.weight]) } : null,
    })),
    validations: m.validations ?? {},
    batching: m.batching ?? null,
    partition: m.partition ?? null,
  });
}

/** The versions the site has given: to each (model, file), to each model version its file, and the pipeline's kept history. */
export interface KnownVersions {
  /** `model\0sha256` → version. */
  readonly byFile: Map<string, string>;
  /** `model\0version` → sha256. */
  readonly fileOf: Map<string, string>;
  /** The pipeline's kept history (the deployments bucket keeps 5 entries per pipeline), oldest first. */
  readonly history: DeployedManifest[];
}

const key = (model: string, x: string): string => `${model}\u0000${x}`;

function remember(known: KnownVersions, m: DeployedManifest): void {
  for (const s of m.steps.flatMap((x) => modelsOfStep(x))) {
    known.byFile.set(key(s.model, s.sha256!), s.version!);
    known.fileOf.set(key(s.model, s.version!), s.sha256!);
  }
}

/**
 * Reads what versions the site has given. Every deployed pipeline counts, so that a model shared by two
 * pipelines has one version (one row in `GET /models`); the pipeline's own history is read last, so
 * that its versions win.
 */
export async function knownVersions(stores: DeploymentStores, pipeline: string): Promise<KnownVersions> {
  const known: KnownVersions = { byFile: new Map(), fileOf: new Map(), history: [] };
  for await (const name of await stores.deployments.keys()) {
    const entry = name === pipeline ? undefined : await stores.deployments.get(name).catch(() => undefined);
    const m = entry?.operation === "PUT" && entry.length > 0 ? readable(entry.json<unknown>()) : undefined;
    if (m) remember(known, m);
  }
  try {
    for await (const e of await stores.deployments.history({ key: pipeline })) {
      const m = e.operation === "PUT" && e.length > 0 ? readable(e.json<unknown>()) : undefined;
      if (m) known.history.push(m);
    }
  } catch {
    // no history yet
  }
  for (const m of known.history) remember(known, m);
  return known;
}

/** A stored manifest, or undefined when it cannot be read (an unreadable old entry names no versions). */
function readable(value: unknown): DeployedManifest | undefined {
  try {
    return parseDeployedManifest(value);
  } catch {
    return undefined;
  }
}

/**
 * The manifest's `pipeline_version` when it gives one, else a fresh one. A given version that the kept
 * history has with other content is refused (409 `conflict`): one version must always mean one content.
 */
export function pipelineVersion(known: KnownVersions, manifest: DeploymentManifest): string {
  const given = manifest.pipeline_version;
  if (!given) return randomUUID();
  const earlier = known.history.find((m) => m.pipeline_version === given);
  if (earlier && contentOf(earlier) !== contentOf(manifest)) {
    throw new FerryError("conflict", `pipeline ${manifest.pipeline}: pipeline_version ${given} was published before with other steps or validations; ` +
      "give a new pipeline_version (or none: each publish then gets a fresh one)");
  }
  return given;
}

/**
 * Gives each model its version: the manifest's when it names one, else the one the site gave the same
 * file, else a fresh one. A given version that the site has for another file is refused (409 `conflict`).
 */
export function versionedSteps(known: KnownVersions, pipeline: string, steps: readonly PipelineStep[]): DeployedStep[] {
  const one = <T extends { model: string; sha256?: string; file?: string; version?: string }>({ file: _file, ...m }: T): Omit<T, "file"> & { version: string; sha256: string } => {
    const sha256 = m.sha256!;
    const had = m.version === undefined ? undefined : known.fileOf.get(key(m.model, m.version));
    if (had !== undefined && had !== sha256) {
      throw new FerryError("conflict", `pipeline ${pipeline}: model ${m.model} version ${m.version} is already the file with sha256 ${had}, not ${sha256}; ` +
        "a changed file needs a new version (or none: Ferry then gives one)");
    }
    return { ...m, sha256, version: m.version ?? known.byFile.get(key(m.model, sha256)) ?? randomUUID() };
  };
  return steps.map(({ shadows, split, ...s }) => ({
    ...(split ? s : one(s)),
    ...(shadows ? { shadows: shadows.map(one) } : {}),
    ...(split ? { split: { ...split, arms: split.arms.map((a) => ({ ...one(a), weight: a.weight })) } } : {}),
  }));
}
