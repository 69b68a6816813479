/** Element types of ONNX tensors (onnxruntime's names) that Ferry can read from requests and write to replies. */
export type TensorElementType =
  | "float32" | "float64" | "int8" | "uint8" | "int16" | "uint16" | "int32" | "uint32" | "int64" | "uint64" | "bool"
  | "string" | "float16";

/** Flat numeric values, as decoded from a request or produced by a session. */
export type NumericArray =
  | Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array
  | BigInt64Array | BigUint64Array | number[];

/** Wallaroo's key for each tensor type in a record's `outputs` list (`{"Float": {...}}`). */
export const OutputTypeKeys: Readonly<Record<TensorElementType, string>> = {
  float32: "Float",
  float64: "Double",
  float16: "Half",
  int8: "Int8",
  uint8: "Uint8",
  int16: "Int16",
  uint16: "Uint16",
  int32: "Int32",
  uint32: "Uint32",
  int64: "Int64",
  uint64: "Uint64",
  bool: "Bool",
  string: "String",
};

/** Element types a request column can be converted into for a model input. */
export const NumericInputTypes = ["float32", "float64", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "bool"] as const;
/** An element type that a model input may have for Ferry to feed it. */
export type NumericInputType = (typeof NumericInputTypes)[number];

/** Whether Ferry can build an input tensor of this element type. */
export function isNumericInputType(type: string): type is NumericInputType {
  return (NumericInputTypes as readonly string[]).includes(type);
}
