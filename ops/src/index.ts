export { start, type Ops, type OpsOptions } from "./ops.js";
export { EdgeBucket, type EdgeRecord, type EdgeState } from "./edge-registry.js";
