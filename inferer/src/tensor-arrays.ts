import { FerryError, type InputColumn, type NumericArray, type NumericInputType } from "@ferry/contracts";

type TypedCtor = new (length: number) => Exclude<NumericArray, number[]>;

/** The typed array class onnxruntime expects for each numeric input type. */
export const TypedArrays: Readonly<Record<NumericInputType, TypedCtor>> = {
  float32: Float32Array, float64: Float64Array, int8: Int8Array, uint8: Uint8Array, int16: Int16Array,
  uint16: Uint16Array, int32: Int32Array, uint32: Uint32Array, int64: BigInt64Array, uint64: BigUint64Array,
  bool: Uint8Array,
};

const isBig = (type: NumericInputType): boolean => type === "int64" || type === "uint64";
const isInt = (type: NumericInputType): boolean => type !== "float32" && type !== "float64";

/**
 * Copies columns (one per request part, rows already checked) into one array of the model's type.
 * A single column that already has the right type is passed through without a copy.
 */
export function gatherColumns(type: NumericInputType, columns: readonly InputColumn[]): Exclude<NumericArray, number[]> {
  const Ctor = TypedArrays[type];
  if (columns.length === 1 && columns[0]!.values instanceof Ctor && type !== "bool") {
    return columns[0]!.values as Exclude<NumericArray, number[]>;
  }
  let size = 0;
  for (const c of columns) size += c.values.length;
  const out = new Ctor(size);
  let at = 0;
  for (const c of columns) {
    copyInto(out, at, c, type);
    at += c.values.length;
  }
  return out;
}

function copyInto(out: Exclude<NumericArray, number[]>, at: number, column: InputColumn, type: NumericInputType): void {
  const src = column.values;
  const n = src.length;
  if (isBig(type)) {
    const dst = out as BigInt64Array | BigUint64Array;
    for (let i = 0; i < n; i++) dst[at + i] = toBigInt(src[i]!, column.name);
  } else if (typeof src[0] === "bigint") {
    const dst = out as Float64Array;
    for (let i = 0; i < n; i++) dst[at + i] = Number(src[i]);
  } else if (isInt(type)) {
    const dst = out as Int32Array;
    for (let i = 0; i < n; i++) {
      const x = src[i] as number;
      if (!Number.isFinite(x)) throw new FerryError("bad_input_type", `column "${column.name}": ${x} is not a valid ${type}`);
      dst[at + i] = type === "bool" ? (x ? 1 : 0) : Math.trunc(x);
    }
  } else if (Array.isArray(src)) {
    (out as Float64Array).set(src, at);
  } else {
    (out as Float64Array).set(src as Float64Array, at);
  }
}

function toBigInt(x: number | bigint, name: string): bigint {
  if (typeof x === "bigint") return x;
  if (!Number.isFinite(x)) throw new FerryError("bad_input_type", `column "${name}": ${x} is not a valid integer`);
  return BigInt(Math.trunc(x));
}

/** Concatenates same-typed arrays. */
export function concatArrays<T extends Exclude<NumericArray, number[]>>(arrays: readonly T[]): T {
  if (arrays.length === 1) return arrays[0]!;
  const size = arrays.reduce((n, a) => n + a.length, 0);
  const out = new (arrays[0]!.constructor as new (n: number) => T)(size);
  let at = 0;
  for (const a of arrays) {
    (out as Float64Array).set(a as unknown as Float64Array, at);
    at += a.length;
  }
  return out;
}
