import type { InferenceRecord, TensorSignature } from "@ferry/contracts";
import { v2DatatypeOf, v2DatatypeOfKey, type V2Datatype } from "./datatypes.js";
import { badTensor, type V2RequestedOutput } from "./tensors.js";

/** One output tensor of a V2 response, its values flattened row-major. */
export interface V2Output {
  name: string;
  datatype: V2Datatype;
  shape: number[];
  values: (number | boolean | string)[];
  /** Sent as raw bytes (REST binary data extension; gRPC `raw_output_contents`). */
  binary: boolean;
}

/** A V2 response's parameters: scalars only, as the protocol's InferParameter allows. */
export type V2Parameters = Record<string, string | number | boolean>;

/** What an inference gave, in V2 terms. */
export interface V2Result {
  model_name: string;
  model_version: string;
  id?: string;
  parameters: V2Parameters;
  outputs: V2Output[];
}

/** Which outputs go back, and how: by the request's `outputs` list, else all of them. */
export function chooseOutputs(signature: readonly TensorSignature[], requested: readonly V2RequestedOutput[] | undefined, binaryOutput: boolean): { index: number; binary: boolean }[] {
  if (!requested || requested.length === 0) return signature.map((_s, index) => ({ index, binary: binaryOutput }));
  return requested.map((r) => {
    const index = signature.findIndex((s) => s.name === r.name);
    if (index < 0) throw badTensor(`the model has no output ${JSON.stringify(r.name)}; its outputs: ${signature.map((s) => s.name).join(", ")}`);
    return { index, binary: r.binary ?? binaryOutput };
  });
}

/**
 * The records of a Wallaroo reply (one per row) as V2 output tensors: each output's rows joined along
 * the first dimension. Validations' results go in `check_failures` and shadow models' in `shadow_data`
 * (JSON text, one entry per row), since parameters hold only scalars.
 */
export function v2Result(records: readonly InferenceRecord[], signature: readonly TensorSignature[], chosen: readonly { index: number; binary: boolean }[]): Pick<V2Result, "outputs" | "parameters"> {
  const outputs = chosen.map(({ index, binary }) => outputTensor(records, signature, index, binary));
  const parameters: V2Parameters = { check_failures: JSON.stringify(records.map((r) => r.check_failures)) };
  if (records.some((r) => Object.keys(r.shadow_data ?? {}).length > 0)) parameters.shadow_data = JSON.stringify(records.map((r) => r.shadow_data));
  const first = records[0];
  if (first) {
    parameters.step_model = first.model_name;
    parameters.step_model_version = first.model_version;
  }
  return { outputs, parameters };
}

function outputTensor(records: readonly InferenceRecord[], signature: readonly TensorSignature[], index: number, binary: boolean): V2Output {
  const spec = signature[index];
  const values: (number | boolean | string)[] = [];
  let datatype: V2Datatype | undefined = spec ? v2DatatypeOf(spec.type) : undefined;
  let shape: number[] = [];
  for (const [row, r] of records.entries()) {
    const entry = r.outputs[index];
    const key = entry ? Object.keys(entry)[0]! : undefined;
    const tensor = key ? entry![key]! : { data: [], dim: [] };
    datatype ??= key ? v2DatatypeOfKey(key) : undefined;
    // A per-row output has dims [1, ...]: the rows make the first dimension (a rank-1 output is [rows]).
    // Any other output is the whole run's, repeated in every record: it is sent once.
    if (row === 0) shape = tensor.dim[0] === 1 ? [records.length, ...tensor.dim.slice(1)] : tensor.dim;
    else if (tensor.dim[0] !== 1) break;
    for (const v of tensor.data) values.push(v as number | boolean | string);
  }
  return { name: spec?.name ?? `output_${index}`, datatype: datatype ?? "FP32", shape, values, binary };
}
