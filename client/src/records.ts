import { errorFromReply, FerryClientError } from "./errors.js";

/** One output tensor of a record: the row's values, its dims (`[1, …]`) and Wallaroo's `v` (always 1). */
export interface OutputTensorJson<V = unknown> {
  data: V[];
  dim: number[];
  v: number;
}

/**
 * One record of an inference reply (`application/json; format=pandas-records`), one per input row,
 * as the gateway and `ferry.infer` answer it. `outputs` holds one entry per model output, keyed by
 * tensor type (`Float`, `Double`, `Int64`, …); `V` types their values for callers who know them,
 * e.g. `infer<number>(…)` for a model whose outputs are all numbers.
 */
export interface InferenceRecord<V = unknown> {
  /** Indices of the pipeline's validations this row triggered. */
  check_failures: number[];
  /** ns: `[0]` decoding the input, then one per step. */
  elapsed: number[];
  model_name: string;
  model_version: string;
  /** The input row, or null when it holds more than 1000 values. */
  original_data: Record<string, unknown> | null;
  outputs: Record<string, OutputTensorJson<V>>[];
  pipeline_name: string;
  /** Shadow model name → its outputs, in the form of `outputs`. */
  shadow_data: Record<string, Record<string, OutputTensorJson<V>>[]>;
  /** ms since the epoch. */
  time: number;
}

/** A record's output values in the model's output order, without the tensor-type keys. */
export function outputValues<V>(record: InferenceRecord<V>): V[][] {
  return record.outputs.map((entry) => Object.values(entry)[0]?.data ?? []);
}

const decoder = new TextDecoder();

/** The records of a reply, or the FerryClientError its status and error body stand for. */
export function recordsFromReply<V>(status: number, body: Uint8Array): InferenceRecord<V>[] {
  if (status >= 400) throw errorFromReply(status, body);
  const records = parseJson(body);
  if (!Array.isArray(records)) throw new FerryClientError("bad_reply", "the reply is not a JSON array of records");
  return records as InferenceRecord<V>[];
}

function parseJson(body: Uint8Array): unknown {
  try {
    return JSON.parse(decoder.decode(body));
  } catch (err) {
    throw new FerryClientError("bad_reply", `the reply is not JSON: ${(err as Error).message}`, { cause: err });
  }
}
