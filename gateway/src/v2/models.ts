import { FerryError, v2DatatypeOf, type InfererStatus, type PipelineSignature, type TensorSignature } from "@ferry/contracts";
import type { StatusView } from "../status-view.js";

/** A pipeline as the V2 API shows it: a model whose one version is the pipeline version running. */
export interface V2Model {
  name: string;
  /** The running pipeline version(s): more than one only while inferers differ, e.g. during a swap. */
  versions: string[];
  signature: PipelineSignature;
  ready: boolean;
}

/** V2 model metadata (`GET /v2/models/{name}`, gRPC ModelMetadata). */
export interface V2ModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: { name: string; datatype: string; shape: number[] }[];
  outputs: { name: string; datatype: string; shape: number[] }[];
}

/** How long a status read answers model lookups before the next one is started (ms). */
const FRESH_MS = 1000;
/** An unknown name waits for a new read only when the last one is at least this old (ms), so 404s cannot flood `ferry.status`. */
const RETRY_UNKNOWN_MS = 250;

/**
 * The pipelines the inferers report, as V2 models, from the gateway's StatusView. Inference needs a
 * pipeline's signature on every request, and asking every inferer (`ferry.status`, tens of ms) each
 * time would cost more than the inference: a report answers for a second, and a newer one is read
 * behind the requests that use it. The REST routes and the gRPC server each have one; the reads are
 * the view's, shared.
 */
export class V2Models {
  readonly #view: StatusView;
  #models = new Map<string, V2Model>();
  #generation = -1;
  #unknownReadAt = 0;
  #unknownRead: Promise<void> = Promise.resolve();

  constructor(view: StatusView) {
    this.#view = view;
  }

  /** The model, from a report at most about a second old; undefined when no inferer reports it. */
  async find(name: string): Promise<V2Model | undefined> {
    const age = Date.now() - this.#view.readAt;
    const known = this.#current().get(name);
    if (known && age < FRESH_MS) return known;
    if (known) {
      void this.#view.read();
      return known;
    }
    // Reads for names no report had are this object's own (the view's background reads do not count):
    // a pipeline deployed a moment ago is found at its first request, and 404s still cannot flood.
    // Lookups meanwhile wait for the same read.
    const now = Date.now();
    if (now - this.#unknownReadAt >= RETRY_UNKNOWN_MS) {
      this.#unknownReadAt = now;
      this.#unknownRead = this.#view.readSince(now);
    }
    await this.#unknownRead;
    return this.#current().get(name);
  }

  /** The model; 404 `unknown_model`, or `unknown_version` when `version` is given and is not running. */
  async get(name: string, version?: string): Promise<V2Model> {
    const model = await this.find(name);
    if (!model) throw new FerryError("unknown_model", `unknown model ${JSON.stringify(name)}: no inferer serves a pipeline of that name`);
    if (version !== undefined && version !== "" && !model.versions.includes(version)) {
      throw new FerryError("unknown_version", `model ${JSON.stringify(name)} has no version ${JSON.stringify(version)} running; running: ${model.versions.join(", ")}`);
    }
    return model;
  }

  /** As {@link get}, from reports read now: a readiness answer must not lag behind an inferer that stopped. */
  async getNow(name: string, version?: string): Promise<V2Model> {
    await this.#view.readSince(Date.now());
    return this.get(name, version);
  }

  /** The models of the view's latest read (worked out once per read). */
  #current(): Map<string, V2Model> {
    const view = this.#view;
    if (view.generation !== this.#generation) {
      this.#models = withGone(modelsOf(view.statuses), this.#models);
      this.#generation = view.generation;
    }
    return this.#models;
  }
}

/** One entry per pipeline that reports a signature; ready when any inferer runs it. */
function modelsOf(statuses: readonly InfererStatus[]): Map<string, V2Model> {
  const out = new Map<string, V2Model>();
  for (const s of statuses) {
    for (const p of s.pipelines) {
      if (!p.signature || !p.version) continue;
      const seen = out.get(p.id);
      const running = p.status === "Running";
      if (!seen) out.set(p.id, { name: p.id, versions: running ? [p.version] : [], signature: p.signature, ready: running });
      else if (running && !seen.versions.includes(p.version)) {
        seen.versions.push(p.version);
        seen.ready = true;
      }
    }
  }
  return out;
}

/**
 * A pipeline that no inferer reports any more stays known, not ready and without a running version:
 * its clients are told it is not ready (and inferences get 503 `no_inferer`), not that it never existed.
 */
function withGone(now: Map<string, V2Model>, before: ReadonlyMap<string, V2Model>): Map<string, V2Model> {
  for (const [name, m] of before) if (!now.has(name)) now.set(name, { ...m, versions: [], ready: false });
  return now;
}

const tensorMetadata = (t: TensorSignature): { name: string; datatype: string; shape: number[] } => ({ name: t.name, datatype: v2DatatypeOf(t.type) ?? t.type.toUpperCase(), shape: t.dims });

/** The protocol's model metadata: the pipeline's request columns and its last step's outputs. */
export function modelMetadata(model: V2Model): V2ModelMetadata {
  return { name: model.name, versions: model.versions, platform: "onnxruntime_onnx", inputs: model.signature.inputs.map(tensorMetadata), outputs: model.signature.outputs.map(tensorMetadata) };
}
