// Helpers of bench/swap.ts: the temp manifests and model copy it alternates between, and a one-process
// Ferry whose spawned nats-server URL the bench knows (so it can publish deployments itself).
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { paths } from "./config.js";
import { Cleanup } from "./procs.js";
import { startFerryChild, type FerryChild } from "./ferry-ready.js";

/** The bytes appended to the copy: protobuf field 20, varint, value 1 (an unknown ModelProto field). */
export const unknownFieldBytes = Buffer.from([0xa0, 0x06, 0x01]);

/** One of the two manifests the bench alternates between. */
export interface SwapManifest {
  label: string;
  path: string;
  modelFile: string;
  sha256: string;
}

/** Temp files of the bench: manifest A (the repo's model), manifest B (the copy with 3 bytes more). */
export interface SwapFiles {
  dir: string;
  a: SwapManifest;
  b: SwapManifest;
}

async function sha256Of(path: string): Promise<string> {
  return createHash("sha256").update(await readFile(path)).digest("hex");
}

/** Writes both manifests (pipeline `pipeline`, one step, model house-price-estimator) into a temp dir. */
export async function writeSwapFiles(pipeline: string, cleanup: Cleanup): Promise<SwapFiles> {
  const dir = await mkdtemp(join(tmpdir(), "ferry-bench-swap-"));
  cleanup.defer(() => rm(dir, { recursive: true, force: true }));
  const copy = join(dir, "house-price-estimator-b.onnx");
  await writeFile(copy, Buffer.concat([await readFile(paths.houseModel), unknownFieldBytes]));
  const manifest = async (label: string, modelFile: string): Promise<SwapManifest> => {
    const path = join(dir, `swap-${label}.json`);
    const body = { pipeline, steps: [{ model: "house-price-estimator", file: modelFile }] };
    await writeFile(path, `${JSON.stringify(body, null, 2)}\n`);
    return { label, path, modelFile, sha256: await sha256Of(modelFile) };
  };
  const files = { dir, a: await manifest("A", paths.houseModel), b: await manifest("B", copy) };
  if (files.a.sha256 === files.b.sha256) throw new Error("the two model files have the same sha256");
  return files;
}

/** A Ferry under test, with the URL of the nats-server it spawned. */
export type SwapFerry = FerryChild;



/** `ferry start` serving `manifest` (see startFerryChild). */
export function startSwapFerry(manifest: string, pipeline: string): Promise<SwapFerry> {
  return startFerryChild("ferry (one process)", manifest, pipeline);
}
