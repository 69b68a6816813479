import type { EnvelopePart } from "@ferry/contracts";
import { Batcher, type BatchWindow } from "./batcher.js";
import type { DurableRun } from "./durable-requests.js";
import { inferParts, type InferOptions, type PartReply } from "./infer-parts.js";
import type { PipelineRuntime } from "./pipeline-runtime.js";
import type { PipelineSet } from "./pipeline-set.js";

/** Batching when a manifest turns it on without saying how. */
const MANIFEST_BATCHING: BatchWindow = { windowMs: 2, maxBatch: 64 };
/** Durable requests nobody waits on: merge those delivered together, without waiting for more. */
const DURABLE_BATCHING: BatchWindow = { windowMs: 0, maxBatch: 64 };

/**
 * Runs request parts on a pipeline version, through that version's batcher where batching is on: as
 * its manifest says, else as the inferer's `fallback` says; durable parts always batch.
 */
export class PartsRunner {
  readonly #options: InferOptions;
  readonly #fallback: BatchWindow | false;
  readonly #batchers = new WeakMap<PipelineRuntime, Batcher>();
  readonly #durableBatchers = new WeakMap<PipelineRuntime, Batcher>();

  constructor(options: InferOptions, fallback: BatchWindow | false) {
    this.#options = options;
    this.#fallback = fallback;
  }

  async run(runtime: PipelineRuntime, parts: readonly EnvelopePart[], durable: boolean): Promise<PartReply[]> {
    runtime.acquire();
    try {
      const b = this.#batcherOf(runtime, durable);
      return await (b ? b.submit(parts) : inferParts(runtime, parts, this.#options));
    } finally {
      runtime.done();
    }
  }

  #batcherOf(runtime: PipelineRuntime, durable: boolean): Batcher | undefined {
    const declared = runtime.batching;
    if (declared === false) return undefined;
    const window = declared ? { windowMs: declared.window_ms ?? MANIFEST_BATCHING.windowMs, maxBatch: declared.max_batch ?? MANIFEST_BATCHING.maxBatch }
      : this.#fallback || undefined;
    const [map, w] = window ? [this.#batchers, window] : durable ? [this.#durableBatchers, DURABLE_BATCHING] : [undefined, undefined];
    if (!map || !w) return undefined;
    let b = map.get(runtime);
    if (!b) map.set(runtime, (b = new Batcher((parts) => inferParts(runtime, parts, this.#options), w)));
    return b;
  }
}

/** Runs a durable request on the pipeline's serving version here (undefined when not serving it now). */
export function durableRunner(set: PipelineSet, runner: PartsRunner, counters: { requests: number }): DurableRun {
  return async (pipeline, part) => {
    const runtime = set.runtimeOf(pipeline);
    if (!runtime) return undefined;
    counters.requests++;
    return (await runner.run(runtime, [part], true))[0];
  };
}
