import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { filesBeside, readManifestFile } from "./manifest-loader.js";
import { PipelineRuntime, type RuntimeOptions } from "./pipeline-runtime.js";
import type { PipelineSet } from "./pipeline-set.js";

/** Serves manifest files (given on the command line, not deployed); resolves to their pipeline names, in order. */
export function serveManifestFiles(set: PipelineSet, paths: readonly string[], runtimeOptions: RuntimeOptions): Promise<string[]> {
  return Promise.all(paths.map((path) => serveFile(set, path, runtimeOptions)));
}

/** Serves a manifest file; resolves to its pipeline name (its `pipeline`, else the file's name). */
async function serveFile(set: PipelineSet, path: string, runtimeOptions: RuntimeOptions): Promise<string> {
  const named: unknown = await readFile(path, "utf8").then((t) => (JSON.parse(t) as { pipeline?: unknown }).pipeline, () => undefined);
  const name = typeof named === "string" ? named : basename(path).replace(/\.json$/, "");
  await set.apply(name, async () => {
    const { manifest, baseDir } = await readManifestFile(path);
    return PipelineRuntime.create(manifest, filesBeside(baseDir), runtimeOptions);
  });
  return name;
}
