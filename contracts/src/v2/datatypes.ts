import { FerryError } from "../errors.js";
import type { TensorElementType } from "../tensor-types.js";

/** The Open Inference Protocol's tensor datatypes. */
export const V2Datatypes = ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32", "FP64", "BYTES"] as const;
export type V2Datatype = (typeof V2Datatypes)[number];

/** ONNX element type (onnxruntime's name) → V2 datatype. */
const fromElement: Readonly<Record<TensorElementType, V2Datatype>> = {
  bool: "BOOL", uint8: "UINT8", uint16: "UINT16", uint32: "UINT32", uint64: "UINT64",
  int8: "INT8", int16: "INT16", int32: "INT32", int64: "INT64",
  float16: "FP16", float32: "FP32", float64: "FP64", string: "BYTES",
};

/** The V2 datatype of an ONNX element type; undefined for one V2 has no name for. */
export function v2DatatypeOf(elementType: string): V2Datatype | undefined {
  return (fromElement as Record<string, V2Datatype | undefined>)[elementType];
}

export function isV2Datatype(d: unknown): d is V2Datatype {
  return typeof d === "string" && (V2Datatypes as readonly string[]).includes(d);
}

/** Bytes per element in the binary data extension (and gRPC raw contents); BYTES is length-prefixed. */
export const ElementBytes: Readonly<Record<Exclude<V2Datatype, "BYTES">, number>> = {
  BOOL: 1, UINT8: 1, INT8: 1, UINT16: 2, INT16: 2, FP16: 2, UINT32: 4, INT32: 4, FP32: 4, UINT64: 8, INT64: 8, FP64: 8,
};

/** A tensor that does not fit what the model takes: 400 `bad_tensor`. */
export const badTensor = (message: string): FerryError => new FerryError("bad_tensor", message);

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Reads `count` little-endian elements of `datatype` from raw bytes (the binary data extension, or gRPC's
 * `raw_input_contents`) as plain values. FP16 is widened to numbers; 64-bit integers become numbers
 * (exact up to 2^53).
 */
export function valuesFromRaw(name: string, datatype: V2Datatype, raw: Uint8Array, count: number): number[] | boolean[] | string[] {
  if (datatype === "BYTES") return bytesElements(name, raw, count);
  const size = ElementBytes[datatype];
  if (raw.byteLength !== size * count) throw badTensor(`input ${JSON.stringify(name)}: ${raw.byteLength} bytes of ${datatype} data, expected ${size * count} for ${count} elements`);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const read = readers[datatype];
  const out = new Array<number>(count);
  for (let i = 0; i < count; i++) out[i] = read(view, i * size);
  return datatype === "BOOL" ? out.map((v) => v !== 0) : out;
}

const readers: Readonly<Record<Exclude<V2Datatype, "BYTES">, (v: DataView, at: number) => number>> = {
  BOOL: (v, at) => v.getUint8(at), UINT8: (v, at) => v.getUint8(at), INT8: (v, at) => v.getInt8(at),
  UINT16: (v, at) => v.getUint16(at, true), INT16: (v, at) => v.getInt16(at, true), FP16: (v, at) => halfToNumber(v.getUint16(at, true)),
  UINT32: (v, at) => v.getUint32(at, true), INT32: (v, at) => v.getInt32(at, true), FP32: (v, at) => v.getFloat32(at, true),
  UINT64: (v, at) => Number(v.getBigUint64(at, true)), INT64: (v, at) => Number(v.getBigInt64(at, true)), FP64: (v, at) => v.getFloat64(at, true),
};

/** BYTES elements: each a 4-byte little-endian length, then that many bytes (read as UTF-8). */
function bytesElements(name: string, raw: Uint8Array, count: number): string[] {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out: string[] = [];
  let at = 0;
  while (at + 4 <= raw.byteLength && out.length < count) {
    const n = view.getUint32(at, true);
    if (at + 4 + n > raw.byteLength) break;
    out.push(decoder.decode(raw.subarray(at + 4, at + 4 + n)));
    at += 4 + n;
  }
  if (out.length !== count || at !== raw.byteLength) throw badTensor(`input ${JSON.stringify(name)}: BYTES data does not hold ${count} length-prefixed elements`);
  return out;
}

/** Writes values as little-endian raw bytes of `datatype` (the binary data extension, gRPC's `raw_output_contents`). */
export function rawFromValues(datatype: V2Datatype, values: readonly (number | boolean | string)[]): Uint8Array {
  if (datatype === "BYTES") return bytesRaw(values.map(String));
  const size = ElementBytes[datatype];
  const out = new Uint8Array(size * values.length);
  const view = new DataView(out.buffer);
  const write = writers[datatype];
  // JSON carries a non-finite number as null.
  for (let i = 0; i < values.length; i++) write(view, i * size, values[i] === null ? NaN : Number(values[i]));
  return out;
}

const writers: Readonly<Record<Exclude<V2Datatype, "BYTES">, (v: DataView, at: number, x: number) => void>> = {
  BOOL: (v, at, x) => v.setUint8(at, x ? 1 : 0), UINT8: (v, at, x) => v.setUint8(at, x), INT8: (v, at, x) => v.setInt8(at, x),
  UINT16: (v, at, x) => v.setUint16(at, x, true), INT16: (v, at, x) => v.setInt16(at, x, true), FP16: (v, at, x) => v.setUint16(at, numberToHalf(x), true),
  UINT32: (v, at, x) => v.setUint32(at, x, true), INT32: (v, at, x) => v.setInt32(at, x, true), FP32: (v, at, x) => v.setFloat32(at, x, true),
  UINT64: (v, at, x) => v.setBigUint64(at, BigInt(Math.trunc(x)), true), INT64: (v, at, x) => v.setBigInt64(at, BigInt(Math.trunc(x)), true), FP64: (v, at, x) => v.setFloat64(at, x, true),
};

function bytesRaw(values: readonly string[]): Uint8Array {
  const encoded = values.map((s) => encoder.encode(s));
  const out = new Uint8Array(encoded.reduce((n, e) => n + 4 + e.byteLength, 0));
  const view = new DataView(out.buffer);
  let at = 0;
  for (const e of encoded) {
    view.setUint32(at, e.byteLength, true);
    out.set(e, at + 4);
    at += 4 + e.byteLength;
  }
  return out;
}

/** IEEE 754 half (binary16 bits) → number. */
function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** number → IEEE 754 half bits, rounding to nearest even (via float32, whose rounding is exact here). */
function numberToHalf(x: number): number {
  const f = new DataView(new ArrayBuffer(4));
  f.setFloat32(0, x);
  const bits = f.getUint32(0);
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = mant >> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rest > mid || (rest === mid && (half & 1)) ? 1 : 0));
  }
  const rest = mant & 0x1fff;
  mant >>= 13;
  if (rest > 0x1000 || (rest === 0x1000 && (mant & 1))) {
    mant++;
    if (mant === 0x400) { mant = 0; e++; }
    if (e >= 31) return sign | 0x7c00;
  }
  return sign | (e << 10) | mant;
}
