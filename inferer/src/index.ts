export { start, type Inferer, type InfererOptions, type InfererStats } from "./inferer.js";
export type { InfererReport } from "./pipeline-set.js";
export { PipelineRuntime, type InputSpec, type RuntimeOptions, type RunResult } from "./pipeline-runtime.js";
export { readManifestFile, sha256 } from "./manifest-loader.js";
export { ArrowDecoder, defaultDecoderThreads, type ArrowDecoderOptions } from "./arrow-decoder.js";
export { LogPublisher, type LogPublisherOptions, type LogPublisherStats } from "./log-publisher.js";
export { batchWindows, Batcher, type BatchWindow } from "./batcher.js";
export type { DurableOptions, DurableStats } from "./durable-requests.js";
export { startPool, defaultWorkers, type InfererPool, type PoolOptions, type PoolStats } from "./inferer-pool.js";
