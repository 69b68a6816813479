import { createHash } from "node:crypto";
import { mkdir, readFile, readdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ObjectStore } from "@nats-io/obj";
import { FerryError, parseDeployedManifest, type DeployedManifest } from "@ferry/contracts";

/**
 * The inferer's local copies of deployed models (by sha256) and of the manifests it last served, so
 * that a restarted inferer serves from disk even when the object store cannot be reached.
 */
export class ModelCache {
  readonly #models: string;
  readonly #manifests: string;
  readonly #fetching = new Map<string, Promise<string>>();

  constructor(dir: string) {
    this.#models = join(dir, "models");
    this.#manifests = join(dir, "deployments");
  }

  /** Path of a model file, fetched from the store and checked against its sha256 when not cached. */
  model(sha: string, model: string, store: () => Promise<ObjectStore>): Promise<string> {
    // Two pipelines may share a model: fetch it once.
    let p = this.#fetching.get(sha);
    if (!p) {
      p = this.#model(sha, model, store).finally(() => this.#fetching.delete(sha));
      this.#fetching.set(sha, p);
    }
    return p;
  }

  async #model(sha: string, model: string, store: () => Promise<ObjectStore>): Promise<string> {
    const path = join(this.#models, `${sha}.onnx`);
    try {
      if (sha256(await readFile(path)) === sha) return path;
    } catch {
      // not cached yet
    }
    let bytes: Uint8Array | null;
    try {
      bytes = await (await store()).getBlob(sha);
    } catch (err) {
      throw new FerryError("bad_request", `model ${model}: cannot fetch ${sha} from the model store: ${(err as Error).message}`, { cause: err });
    }
    if (!bytes) throw new FerryError("bad_request", `model ${model}: object ${sha} is not in the model store`);
    const got = sha256(bytes);
    if (got !== sha) throw new FerryError("bad_request", `model ${model}: the model store's ${sha} has sha256 ${got}`);
    await mkdir(this.#models, { recursive: true });
    const tmp = `${path}.${process.pid}-${Math.random().toString(36).slice(2)}.tmp`;
    await writeFile(tmp, bytes);
    await rename(tmp, path);
    return path;
  }

  /** Remembers the manifest now serving a pipeline. */
  async saveManifest(m: DeployedManifest): Promise<void> {
    await mkdir(this.#manifests, { recursive: true });
    const path = join(this.#manifests, `${m.pipeline}.json`);
    // Several inferers (threads of one pool) may save the same manifest at once.
    const tmp = `${path}.${process.pid}-${Math.random().toString(36).slice(2)}.tmp`;
    await writeFile(tmp, JSON.stringify(m));
    await rename(tmp, path);
  }

  /** Forgets an undeployed pipeline. */
  async forgetManifest(pipeline: string): Promise<void> {
    await rm(join(this.#manifests, `${pipeline}.json`), { force: true });
  }

  /** The manifests served before a restart. */
  async manifests(): Promise<DeployedManifest[]> {
    let files: string[];
    try {
      files = (await readdir(this.#manifests)).filter((f) => f.endsWith(".json"));
    } catch {
      return [];
    }
    const out: DeployedManifest[] = [];
    for (const f of files) {
      try {
        out.push(parseDeployedManifest(JSON.parse(await readFile(join(this.#manifests, f), "utf8")) as unknown, f));
      } catch {
        // a damaged cache entry is skipped; the bucket will send the manifest again
      }
    }
    return out;
  }
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
