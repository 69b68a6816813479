import { badTensor, isV2Datatype, rawFromValues, valuesFromRaw, type V2Datatype, type V2DecodedOutput, type V2Input } from "@ferry/contracts";

/** `InferTensorContents` as @grpc/proto-loader gives it (keepCase, 64-bit integers as numbers). */
export interface TensorContents {
  bool_contents?: boolean[];
  int_contents?: number[];
  int64_contents?: number[];
  uint_contents?: number[];
  uint64_contents?: number[];
  fp32_contents?: number[];
  fp64_contents?: number[];
  bytes_contents?: Buffer[];
}

/** The typed field of `InferTensorContents` for each datatype (FP16 has none: it travels raw). */
const contentsField: Readonly<Record<Exclude<V2Datatype, "FP16">, keyof TensorContents>> = {
  BOOL: "bool_contents", INT8: "int_contents", INT16: "int_contents", INT32: "int_contents", INT64: "int64_contents",
  UINT8: "uint_contents", UINT16: "uint_contents", UINT32: "uint_contents", UINT64: "uint64_contents",
  FP32: "fp32_contents", FP64: "fp64_contents", BYTES: "bytes_contents",
};

/** Whether a tensor's `contents` hold any values (an absent message decodes as null, an empty one as empty lists). */
export function hasContents(contents: TensorContents | null | undefined): boolean {
  return Boolean(contents && Object.values(contents).some((v) => Array.isArray(v) && v.length > 0));
}

/** An input tensor from `ModelInferRequest`: its `contents`, or its entry of `raw_input_contents`. */
export function inputFromGrpc(t: { name: string; datatype: string; shape: number[]; contents?: TensorContents | null }, raw: Buffer | undefined): V2Input {
  const base = { name: t.name, datatype: t.datatype, shape: t.shape.map(Number) };
  if (raw) return { ...base, raw: new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength) };
  // A name that is no datatype is refused as such when the input is checked against the model.
  if (!isV2Datatype(t.datatype)) return { ...base, values: [] };
  const field = (contentsField as Record<string, keyof TensorContents | undefined>)[t.datatype];
  if (!field) throw badTensor(`input ${JSON.stringify(t.name)}: datatype ${JSON.stringify(t.datatype)} has no typed contents; send it in raw_input_contents`);
  const values = t.contents?.[field] ?? [];
  return { ...base, values: field === "bytes_contents" ? (values as Buffer[]).map((b) => b.toString("utf8")) : values };
}

/** An output as `InferOutputTensor` with typed `contents`, or, when `raw`, without (its bytes go in `raw_output_contents`). */
export function outputToGrpc(o: V2DecodedOutput, raw: boolean): { tensor: Record<string, unknown>; raw?: Buffer } {
  const tensor = { name: o.name, datatype: o.datatype, shape: o.shape };
  const bytes = o.raw ?? rawFromValues(o.datatype, (o.data ?? []) as (number | boolean | string)[]);
  if (raw || o.datatype === "FP16") return { tensor, raw: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
  const field = contentsField[o.datatype];
  const values = o.data ?? valuesFromRaw(o.name, o.datatype, bytes, o.shape.reduce((n, d) => n * d, 1));
  return { tensor: { ...tensor, contents: { [field]: field === "bytes_contents" ? values.map((v) => Buffer.from(String(v))) : values } } };
}
