import ort from "onnxruntime-node";
import { FerryError, compileExpression, isNumericInputType, type CompiledExpression, type BatchingSettings, type DeploymentManifest, type NumericInputType, type OutputTensor, type PipelineSignature, type TensorElementType } from "@ferry/contracts";
import { loadModel, uuidFromHash, type LoadedModel, type ModelLocator, type ModelRef } from "./manifest-loader.js";
import { TypedArrays, concatArrays } from "./tensor-arrays.js";

/** A model input as the first step declares it, and the request column bound to it. */
export interface InputSpec {
  readonly name: string;
  readonly type: NumericInputType;
  readonly dims: readonly (number | string)[];
  /** Values per row (product of the non-batch dims); undefined when one of them is symbolic. */
  readonly width: number | undefined;
  /** The request column read for this input (the manifest's binding, else the input's own name). */
  readonly column: string;
}

interface Model {
  readonly model: Omit<LoadedModel, "bytes">;
  readonly session: ort.InferenceSession;
  /** Observes this model's step time, seconds (metrics). */
  readonly observe?: (seconds: number) => void;
}

interface Step extends Model {
  /** model input → name of the previous step's output that feeds it (unused for the first step). */
  readonly feeds: ReadonlyMap<string, string>;
  /** Challenger models run on the same feeds; their results are reported, never passed on. */
  readonly shadows: readonly Model[];
  /** A/B split arms (the step's own model is arm 0), empty without a split. */
  readonly arms: readonly (Model & { weight: number })[];
  readonly split?: { keyColumn?: string; keyHeader?: boolean };
}

/** What a shadow model gave for a run: its outputs, or why it failed (a shadow never fails a request). */
export interface ShadowResult {
  readonly model: string;
  readonly outputs?: OutputTensor[];
  readonly error?: string;
}

/** A named validation, compiled once. */
export interface Validation {
  readonly name: string;
  readonly expression: CompiledExpression;
}

/** Session options: onnxruntime threads per session, and who times the steps. */
export interface RuntimeOptions {
  intraOpThreads?: number;
  /** Makes the observer of a model's step times (seconds), resolved once per model so a run costs one call. */
  stepTimer?: (pipeline: string, model: string) => (seconds: number) => void;
}

/** The result of running every step of a pipeline once. */
export interface RunResult {
  readonly outputs: OutputTensor[];
  /** ns spent in each step. */
  readonly stepNs: number[];
  readonly shadows: ShadowResult[];
  /** The model that produced the outputs (with a split, the arm that answered). */
  readonly lastModel: Omit<LoadedModel, "bytes">;
}

/** One loaded version of a pipeline: its sessions, in step order. */
export class PipelineRuntime {
  readonly name: string;
  readonly version: string;
  readonly inputs: readonly InputSpec[];
  /** Fixed batch size of the first step (e.g. 1 for a model exported with batch 1), else undefined. */
  readonly fixedBatch: number | undefined;
  /** The manifest's validations, in order (a record's `check_failures` are indices into this). */
  readonly validations: readonly Validation[];
  /** The manifest's batching setting (undefined: the inferer's default). */
  readonly batching: BatchingSettings | false | undefined;
  /** Request columns and the last step's outputs, as `ferry.status` reports them (the V2 API's metadata). */
  readonly signature: PipelineSignature;
  readonly #steps: Step[];
  /** Off during the warm-up run, which is no inference. */
  #observing = false;
  #active = 0;
  #drained: (() => void) | undefined;

  private constructor(manifest: DeploymentManifest, steps: Step[]) {
    this.name = manifest.pipeline;
    this.version = manifest.pipeline_version ?? uuidFromHash(steps.map((s) => s.model.sha).join(""));
    this.#steps = steps;
    this.batching = manifest.batching;
    const first = steps[0]!;
    const bindings = manifest.steps[0]!.inputs ?? {};
    this.inputs = first.session.inputMetadata.map((m) => inputSpec(m, bindings[m.name] ?? m.name, first.model.name));
    const batch = this.inputs[0]?.dims[0];
    this.fixedBatch = typeof batch === "number" && batch > 0 ? batch : undefined;
    const outputs = steps[steps.length - 1]!.session.outputNames;
    this.signature = {
      inputs: this.inputs.map((i) => ({ name: i.column, type: i.type, dims: signatureDims(i.dims) })),
      outputs: steps[steps.length - 1]!.session.outputMetadata.map((m) => ({ name: m.name, type: m.isTensor ? m.type : "unknown", dims: m.isTensor ? signatureDims(m.shape) : [] })),
    };
    this.validations = Object.entries(manifest.validations ?? {}).map(([name, source]) => {
      try {
        return { name, expression: compileExpression(source, outputs) };
      } catch (err) {
        throw new FerryError("bad_request", `validation ${name}: ${(err as Error).message} (outputs: ${outputs.join(", ")})`, { cause: err });
      }
    });
  }

  /** Loads every step's model, checks that steps connect, and warms the sessions up with one run. */
  static async create(manifest: DeploymentManifest, locate: ModelLocator, options: RuntimeOptions = {}): Promise<PipelineRuntime> {
    const steps: Step[] = [];
    const opened: ort.InferenceSession[] = [];
    const open = async (ref: ModelRef, loaded?: LoadedModel): Promise<Model> => {
      const model = loaded ?? await loadModel(ref, locate);
      const session = await ort.InferenceSession.create(model.bytes, {
        intraOpNumThreads: options.intraOpThreads ?? 1,
        interOpNumThreads: 1,
        graphOptimizationLevel: "all",
      }).catch((err: unknown) => {
        throw new FerryError("bad_request", `model ${model.name} (${model.path}) failed to load: ${(err as Error).message}`, { cause: err });
      });
      opened.push(session);
      const { bytes: _bytes, ...info } = model;
      const observe = options.stepTimer?.(manifest.pipeline, model.name);
      return { model: info, session, ...(observe ? { observe } : {}) };
    };
    try {
      for (const [i, spec] of manifest.steps.entries()) {
        const arms = spec.split ? await Promise.all(spec.split.arms.map(async (a) => ({ ...(await open(a)), weight: a.weight }))) : [];
        const main = arms[0] ?? await open(spec);
        for (const arm of arms.slice(1)) {
          if (arm.session.inputNames.join() !== main.session.inputNames.join() || arm.session.outputNames.join() !== main.session.outputNames.join()) {
            throw new FerryError("bad_request", `split arm ${arm.model.name} must have the inputs and outputs of ${main.model.name}`);
          }
        }
        const shadows = await Promise.all((spec.shadows ?? []).map((ref) => open(ref)));
        const prev = steps[i - 1];
        steps.push({
          ...main, shadows, arms,
          ...(spec.split ? { split: { keyColumn: spec.split.key_column, keyHeader: spec.split.key_header } } : {}),
          feeds: prev ? stepFeeds(prev, main.session, spec.inputs ?? {}, main.model.name) : new Map(),
        });
      }
      const runtime = new PipelineRuntime(manifest, steps);
      await runtime.#warmUp().catch((err: unknown) => {
        throw new FerryError("bad_request", `pipeline ${manifest.pipeline}: the warm-up run failed: ${(err as Error).message}`, { cause: err });
      });
      runtime.#observing = true;
      return runtime;
    } catch (err) {
      await Promise.all(opened.map((s) => s.release()));
      throw err;
    }
  }

  /** The models in step order, split arms and shadows after their step, as `/models` reports them. */
  get models(): readonly Omit<LoadedModel, "bytes">[] {
    return this.#steps.flatMap((s) => [...(s.arms.length > 0 ? s.arms : [s]).map((x) => x.model), ...s.shadows.map((x) => x.model)]);
  }

  /** Whether a step splits traffic (A/B). */
  get splits(): boolean {
    return this.#steps.some((s) => s.arms.length > 0);
  }

  /**
   * Picks an arm for each split step: by weight at random, or by a hash of the key (the request's
   * Ferry-Split-Key header, or the key column's value) so that the same key always gets the same arm.
   */
  route(header: string | undefined, column: (name: string) => unknown): number[] {
    return this.#steps.map((s) => {
      if (s.arms.length === 0) return 0;
      let key: string | undefined;
      if (s.split?.keyHeader) key = header;
      else if (s.split?.keyColumn) key = JSON.stringify(column(s.split.keyColumn) ?? null);
      const total = s.arms.reduce((n, a) => n + a.weight, 0);
      let point = (key === undefined ? Math.random() : hashUnit(key)) * total;
      for (const [i, a] of s.arms.entries()) {
        point -= a.weight;
        if (point < 0) return i;
      }
      return s.arms.length - 1;
    });
  }

  /** The model whose outputs the pipeline returns. */
  get lastModel(): Omit<LoadedModel, "bytes"> {
    return this.#steps[this.#steps.length - 1]!.model;
  }

  /** Runs all steps on `rows` rows; models with a fixed batch size run in chunks of it. */
  async run(feeds: Record<string, ort.Tensor>, rows: number, arms: readonly number[] = []): Promise<RunResult> {
    const chunk = this.fixedBatch;
    if (chunk === undefined || chunk === rows) return this.#runOnce(feeds, arms);
    if (rows % chunk !== 0) throw new FerryError("bad_shape", `this pipeline's model takes batches of ${chunk} rows; got ${rows}`);
    const results: RunResult[] = [];
    for (let start = 0; start < rows; start += chunk) results.push(await this.#runOnce(sliceFeeds(feeds, start, chunk, rows), arms));
    return mergeResults(results);
  }

  async #runOnce(feeds: Record<string, ort.Tensor>, arms: readonly number[]): Promise<RunResult> {
    const stepNs: number[] = [];
    const shadows: ShadowResult[] = [];
    let current: Record<string, ort.Tensor> = feeds;
    let outputs: ort.InferenceSession.OnnxValueMapType = {};
    let last: Model = this.#steps[0]!;
    for (const [i, step] of this.#steps.entries()) {
      const t0 = process.hrtime.bigint();
      last = step.arms[arms[i] ?? 0] ?? step;
      if (step.feeds.size > 0) {
        const next: Record<string, ort.Tensor> = {};
        for (const [input, from] of step.feeds) next[input] = outputs[from] as ort.Tensor;
        current = next;
      }
      outputs = await last.session.run(current);
      const ns = Number(process.hrtime.bigint() - t0);
      stepNs.push(ns);
      if (this.#observing) last.observe?.(ns / 1e9);
      for (const shadow of step.shadows) shadows.push(await runShadow(shadow, current));
    }
    return { outputs: tensorsOf(last.session, outputs), stepNs, shadows, lastModel: last.model };
  }

  async #warmUp(): Promise<void> {
    if (this.inputs.some((i) => i.width === undefined)) return;
    const rows = this.fixedBatch ?? 1;
    const feeds: Record<string, ort.Tensor> = {};
    for (const input of this.inputs) {
      feeds[input.name] = new ort.Tensor(input.type, new TypedArrays[input.type](rows * input.width!), this.tensorDims(input, rows, input.width!));
    }
    const widest = Math.max(1, ...this.#steps.map((s) => s.arms.length));
    for (let arm = 0; arm < widest; arm++) await this.run(feeds, rows, this.#steps.map((s) => Math.min(arm, Math.max(0, s.arms.length - 1))));
  }

  /** Dims of the tensor for `rows` rows of `width` values each. */
  tensorDims(input: InputSpec, rows: number, width: number): number[] {
    if (input.dims.length === 0) return [rows, width];
    if (input.dims.length === 1) return [rows];
    const rest = input.dims.slice(1);
    const known = rest.reduce<number>((n, d) => (typeof d === "number" && d > 0 ? n * d : n), 1);
    return [rows, ...rest.map((d) => (typeof d === "number" && d > 0 ? d : width / known))];
  }

  /** Marks a request as using this version (so a swap waits for it before releasing the sessions). */
  acquire(): void {
    this.#active++;
  }

  /** Marks a request acquired with `acquire()` as finished. */
  done(): void {
    if (--this.#active === 0) this.#drained?.();
  }

  /** Waits for the requests using this version to finish, then releases the sessions. */
  async retire(): Promise<void> {
    if (this.#active > 0) await new Promise<void>((resolve) => { this.#drained = resolve; });
    await this.release();
  }

  /** Releases the sessions. */
  async release(): Promise<void> {
    await Promise.all(this.#steps.flatMap((s) => [s, ...s.arms.slice(1), ...s.shadows]).map((m) => m.session.release()));
  }
}

/** ONNX dims as numbers: a symbolic or unknown dimension is -1. */
function signatureDims(dims: readonly (number | string)[]): number[] {
  return dims.map((d) => (typeof d === "number" && d > 0 ? d : -1));
}

function inputSpec(meta: ort.InferenceSession.ValueMetadata, column: string, model: string): InputSpec {
  if (!meta.isTensor || !isNumericInputType(meta.type)) {
    throw new FerryError("bad_request", `model ${model}: input ${meta.name} has type ${meta.isTensor ? meta.type : "non-tensor"}, which Ferry cannot feed`);
  }
  const rest = meta.shape.slice(1);
  const symbolic = rest.filter((d) => typeof d !== "number" || d <= 0).length;
  if (symbolic > 1) throw new FerryError("bad_request", `model ${model}: input ${meta.name} has more than one symbolic non-batch dimension`);
  const width = meta.shape.length === 0 || symbolic > 0 ? undefined : rest.reduce<number>((n, d) => n * (d as number), 1);
  return { name: meta.name, type: meta.type, dims: meta.shape, width, column };
}

function stepFeeds(prev: Step, session: ort.InferenceSession, bindings: Record<string, string>, model: string): Map<string, string> {
  const produced = new Map(prev.session.outputMetadata.map((m) => [m.name, m]));
  const feeds = new Map<string, string>();
  for (const input of session.inputMetadata) {
    let from = bindings[input.name] ?? input.name;
    if (!produced.has(from) && session.inputNames.length === 1 && produced.size === 1) from = prev.session.outputNames[0]!;
    const out = produced.get(from);
    if (!out) throw new FerryError("bad_request", `model ${model}: input ${input.name} matches no output of ${prev.model.name} (${[...produced.keys()].join(", ")})`);
    if (out.isTensor && input.isTensor && out.type !== input.type) {
      throw new FerryError("bad_request", `model ${model}: input ${input.name} takes ${input.type}, ${prev.model.name} gives ${out.type}`);
    }
    if (out.isTensor && input.isTensor && !shapesFit(out.shape, input.shape)) {
      throw new FerryError("bad_request", `model ${model}: input ${input.name} takes shape [${input.shape.join(",")}], ${prev.model.name}'s ${out.name} has [${out.shape.join(",")}]`);
    }
    feeds.set(input.name, from);
  }
  return feeds;
}

/** Whether a tensor of shape `given` can feed an input of shape `wanted` (unknown or symbolic dims fit anything). */
function shapesFit(given: readonly (number | string)[], wanted: readonly (number | string)[]): boolean {
  if (given.length === 0 || wanted.length === 0) return true;
  if (given.length !== wanted.length) return false;
  return given.every((d, i) => typeof d !== "number" || typeof wanted[i] !== "number" || d < 0 || (wanted[i] as number) < 0 || d === wanted[i]);
}

/** A string's FNV-1a hash as a number in [0, 1). */
function hashUnit(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h / 0x100000000;
}

function tensorsOf(session: ort.InferenceSession, outputs: ort.InferenceSession.OnnxValueMapType): OutputTensor[] {
  return session.outputNames.map((name) => toOutput(name, outputs[name] as ort.Tensor));
}

/** Runs a shadow model; its failure is reported, never thrown. */
async function runShadow(shadow: Model, feeds: Record<string, ort.Tensor>): Promise<ShadowResult> {
  try {
    const wanted: Record<string, ort.Tensor> = {};
    for (const name of shadow.session.inputNames) {
      const t = feeds[name] ?? (shadow.session.inputNames.length === 1 && Object.keys(feeds).length === 1 ? Object.values(feeds)[0] : undefined);
      if (!t) throw new Error(`no input ${name} for it among ${Object.keys(feeds).join(", ")}`);
      wanted[name] = t;
    }
    return { model: shadow.model.name, outputs: tensorsOf(shadow.session, await shadow.session.run(wanted)) };
  } catch (err) {
    return { model: shadow.model.name, error: (err as Error).message };
  }
}

function toOutput(name: string, t: ort.Tensor): OutputTensor {
  return { name, type: t.type as TensorElementType, dims: t.dims, data: t.data as OutputTensor["data"] };
}

function sliceFeeds(feeds: Record<string, ort.Tensor>, start: number, count: number, rows: number): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(feeds)) {
    const width = t.data.length / rows;
    const data = (t.data as Float32Array).subarray(start * width, (start + count) * width);
    out[name] = new ort.Tensor(t.type as "float32", data, [count, ...t.dims.slice(1)]);
  }
  return out;
}

function mergeTensors(chunks: readonly OutputTensor[][]): OutputTensor[] {
  return chunks[0]!.map((o, k) => {
    const parts = chunks.map((c) => c[k]!);
    const data = o.type === "string"
      ? parts.flatMap((p) => [...(p.data as string[])])
      : concatArrays(parts.map((p) => p.data as Float32Array));
    return { ...o, dims: [parts.reduce((n, p) => n + (p.dims[0] ?? 1), 0), ...o.dims.slice(1)], data };
  });
}

function mergeResults(results: RunResult[]): RunResult {
  const first = results[0]!;
  const shadows = first.shadows.map((s, k): ShadowResult => {
    const failed = results.find((r) => r.shadows[k]!.error);
    return failed ? failed.shadows[k]! : { model: s.model, outputs: mergeTensors(results.map((r) => r.shadows[k]!.outputs!)) };
  });
  return {
    outputs: mergeTensors(results.map((r) => r.outputs)),
    stepNs: first.stepNs.map((_, s) => results.reduce((n, r) => n + r.stepNs[s]!, 0)),
    shadows,
    lastModel: first.lastModel,
  };
}
