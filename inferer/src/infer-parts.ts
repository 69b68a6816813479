import ort from "onnxruntime-node";
import { FerryError, asFerryError, contentTypeOf, encodeLogRecords, encodeRecordsArrow, encodeRecordsJson, keptInputs, encodeV2Response, jsonThenRaw, v2ContentType, MediaTypes, type EnvelopePart, type InputTable, type RecordsView } from "@ferry/contracts";
import type { ArrowDecoder } from "./arrow-decoder.js";
import type { PipelineRuntime, RunResult } from "./pipeline-runtime.js";
import { bindRequest, type BoundRequest } from "./request-binding.js";
import { gatherColumns } from "./tensor-arrays.js";

/** The reply to one request part. */
export interface PartReply {
  status: number;
  contentType: string;
  body: Uint8Array;
  /** Builds this reply's log records (one per row); called after the reply is sent. */
  logs?: () => string[];
  /** The error behind a 500 reply: a fault of Ferry's or of the model, which the inferer logs. */
  failure?: FerryError;
}

/** Options of the inference path. */
export interface InferOptions {
  /** Rows with more scalar values than this get `original_data: null`. */
  originalDataMaxValues: number;
  /** Decodes Arrow bodies off the main thread. */
  arrow: ArrowDecoder;
  /** Log record settings; no records without it. */
  log?: { partition: string; /** Inputs larger than this are left out of a record, bytes (8 a value). */ dropBytes: number };
  /** Counts pipeline runs, when given. */
  counters?: { runs: number };
  /** Observes each run's size (metrics), when given. */
  observeRun?: (pipeline: string, requests: number, rows: number) => void;
}

// Buffer.from(text), not TextEncoder.encode: on Node 20 the latter allocates a fresh ArrayBuffer outside
// the heap for every reply (1–3 µs for a few hundred bytes here); Buffer.from takes a slice of a pool.
/** The reply for an error. */
export function errorReply(err: unknown): PartReply {
  const e = asFerryError(err);
  return { status: e.status, contentType: MediaTypes.json, body: Buffer.from(JSON.stringify(e.toBody())), ...(e.status === 500 ? { failure: e } : {}) };
}

/**
 * Answers request parts for one pipeline: decodes each, merges the rows of all good parts into one
 * session run, and splits the outputs back. A bad part gets its own error; the others still run.
 */
export async function inferParts(runtime: PipelineRuntime, parts: readonly EnvelopePart[], options: InferOptions): Promise<PartReply[]> {
  const replies = new Array<PartReply>(parts.length);
  const groups = new Map<string, { index: number; bound: BoundRequest }[]>();
  const bound = await Promise.allSettled(parts.map((part) => bindRequest(runtime, part, options.arrow)));
  bound.forEach((b, index) => {
    if (b.status === "rejected") {
      replies[index] = errorReply(b.reason);
      return;
    }
    const key = `${b.value.widths.join(",")}/${b.value.arms.join(",")}`;
    let group = groups.get(key);
    if (!group) groups.set(key, (group = []));
    group.push({ index, bound: b.value });
  });
  for (const group of groups.values()) {
    const answered = await runGroup(runtime, group.map((g) => g.bound), options).catch(async (err: unknown) => {
      // One bad request must not fail the others it was merged with: run each alone.
      if (group.length === 1) return [errorReply(err)];
      return Promise.all(group.map((g) => runGroup(runtime, [g.bound], options).then((r) => r[0]!, errorReply)));
    });
    group.forEach((g, k) => { replies[g.index] = answered[k]!; });
  }
  return replies;
}

/**
 * The validations of each row of a run, evaluated once for both the reply (`check_failures`) and the
 * log (`anomaly`). A validation that is true marks the record (Wallaroo's anomaly semantics); one that
 * cannot be evaluated on a row counts as true, so a broken check is seen rather than hidden.
 */
function validationsOf(runtime: PipelineRuntime, result: RunResult, rows: number): { failures(row: number): number[]; flags(row: number): Record<string, boolean> } {
  const none = { failures: (): number[] => [], flags: (): Record<string, boolean> => ({}) };
  if (runtime.validations.length === 0) return none;
  const memo = new Map<number, boolean[]>();
  const evaluate = (row: number): boolean[] => {
    let got = memo.get(row);
    if (!got) {
      const scope: Record<string, ArrayLike<number | bigint>> = {};
      for (const t of result.outputs) {
        if (t.type === "string" || Array.isArray(t.data)) continue;
        const size = t.dims[0] === rows ? t.data.length / rows : t.data.length;
        const from = t.dims[0] === rows ? row * size : 0;
        scope[t.name] = (t.data as Float32Array).subarray(from, from + size);
      }
      got = runtime.validations.map((v) => {
        try {
          return v.expression.evaluate(scope);
        } catch {
          return true;
        }
      });
      memo.set(row, got);
    }
    return got;
  };
  return {
    failures: (row) => evaluate(row).flatMap((hit, i) => (hit ? [i] : [])),
    flags: (row) => Object.fromEntries(runtime.validations.map((v, i) => [v.name, evaluate(row)[i]!])),
  };
}

/** Row sizes and JSON text, computed once for both the reply's `original_data` and the log's `in`. */
function rowCache(table: InputTable): { size(i: number): number; json(i: number): string } {
  const sizes = new Map<number, number>();
  const texts = new Map<number, string>();
  return {
    size: (i) => sizes.get(i) ?? sizes.set(i, table.rowSize(i)).get(i)!,
    json: (i) => texts.get(i) ?? texts.set(i, JSON.stringify(table.row(i))).get(i)!,
  };
}

async function runGroup(runtime: PipelineRuntime, requests: readonly BoundRequest[], options: InferOptions): Promise<PartReply[]> {
  let rows = 0;
  for (const r of requests) rows += r.table.rowCount;
  const feeds: Record<string, ort.Tensor> = {};
  runtime.inputs.forEach((spec, k) => {
    const data = gatherColumns(spec.type, requests.map((r) => r.columns[k]!));
    const width = requests[0]!.widths[k]!;
    feeds[spec.name] = new ort.Tensor(spec.type, data as Float32Array, runtime.tensorDims(spec, rows, width));
  });
  let result: RunResult;
  if (options.counters) options.counters.runs++;
  options.observeRun?.(runtime.name, requests.length, rows);
  try {
    result = await runtime.run(feeds, rows, requests[0]!.arms);
  } catch (err) {
    throw err instanceof FerryError ? err : new FerryError("inference_failed", `pipeline ${runtime.name}: ${(err as Error).message}`, { cause: err });
  }
  const time = Date.now();
  const last = result.lastModel;
  const split = runtime.splits ? JSON.stringify(JSON.stringify({ name: last.name, version: last.version, sha: last.sha })) : undefined;
  let rowStart = 0;
  const checks = validationsOf(runtime, result, rows);
  return requests.map((r) => {
    const cache = rowCache(r.table);
    const start = rowStart;
    const view: RecordsView = {
      pipelineName: runtime.name,
      modelName: last.name,
      modelVersion: last.version,
      elapsed: [r.decodeNs, ...result.stepNs],
      time,
      outputs: result.outputs,
      runRows: rows,
      rowStart,
      rowCount: r.table.rowCount,
      originalData: (i) => (cache.size(i) <= options.originalDataMaxValues ? cache.json(i) : null),
      checkFailures: (i) => checks.failures(start + i),
      shadows: result.shadows,
    };
    rowStart += r.table.rowCount;
    const { body, contentType } = replyBody(runtime, r, view);
    const log = options.log;
    const logs = log && ((): string[] => encodeLogRecords(view, {
      partition: log.partition, pipelineVersion: runtime.version, lastModelSha: last.sha,
      input: (i) => {
        if (cache.size(i) * 8 <= log.dropBytes) return { json: cache.json(i), dropped: [] };
        const kept = keptInputs(r.table, i, log.dropBytes);
        return { json: JSON.stringify(kept.in), dropped: kept.dropped };
      },
      ...(runtime.validations.length > 0 ? { anomalies: (i: number) => checks.flags(start + i) } : {}),
      ...(split ? { modelSplit: split } : {}),
    }));
    return { status: 200, contentType, body, ...(logs ? { logs } : {}) };
  });
}

/** A request's reply: V2 for a V2 request (JSON, or JSON then raw outputs), else the records in the format it accepts. */
function replyBody(runtime: PipelineRuntime, r: BoundRequest, view: RecordsView): { body: Uint8Array; contentType: string } {
  if (r.v2) {
    const { json, raws } = encodeV2Response(view, runtime.signature.outputs, runtime.version, r.v2);
    const { body, jsonLength } = jsonThenRaw(Buffer.from(json), raws);
    return { body, contentType: jsonLength === undefined ? MediaTypes.json : v2ContentType(jsonLength) };
  }
  return { body: r.output === "arrow-file" ? encodeRecordsArrow(view) : Buffer.from(encodeRecordsJson(view)), contentType: contentTypeOf(r.output) };
}
