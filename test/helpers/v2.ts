import assert from "node:assert/strict";

/** A V2 output tensor as the REST API sends it (JSON data, or binary_data_size with the bytes after the header). */
export interface V2Tensor {
  name: string;
  datatype: string;
  shape: number[];
  data?: unknown[];
  parameters?: { binary_data_size?: number };
}

/** A V2 inference response, its raw outputs (binary data extension) split off by name. */
export interface V2Response {
  model_name: string;
  model_version: string;
  id?: string;
  parameters: Record<string, string | number | boolean>;
  outputs: V2Tensor[];
}

/** What a V2 POST answered: status, content type, the JSON part and each binary output's bytes. */
export interface V2Reply {
  status: number;
  type: string;
  headerLength: string | null;
  json: V2Response & { error?: string; code?: string };
  raw: Map<string, Uint8Array>;
}

/** POSTs to a V2 path and parses the reply, splitting a binary data extension response at Inference-Header-Content-Length. */
export async function v2Post(url: string, body: string | Uint8Array, headers: Record<string, string> = { "Content-Type": "application/json" }): Promise<V2Reply> {
  const res = await fetch(url, { method: "POST", body, headers });
  const bytes = new Uint8Array(await res.arrayBuffer());
  const headerLength = res.headers.get("inference-header-content-length");
  const jsonLength = headerLength === null ? bytes.byteLength : Number(headerLength);
  const json = JSON.parse(new TextDecoder().decode(bytes.subarray(0, jsonLength))) as V2Reply["json"];
  const raw = new Map<string, Uint8Array>();
  let at = jsonLength;
  for (const o of json.outputs ?? []) {
    const size = o.parameters?.binary_data_size;
    if (size === undefined) continue;
    assert.ok(at + size <= bytes.byteLength, `output ${o.name}: ${size} bytes past the body's end`);
    raw.set(o.name, bytes.slice(at, at + size));
    at += size;
  }
  assert.equal(at, bytes.byteLength, "every byte after the JSON header belongs to an output");
  return { status: res.status, type: res.headers.get("content-type") ?? "", headerLength, json, raw };
}

/** A binary data extension request: the JSON header, then the raw tensors in input order. */
export function binaryRequest(header: unknown, ...raws: Uint8Array[]): { body: Uint8Array; headers: Record<string, string> } {
  return paddedBinaryRequest(header, 0, ...raws);
}

/** The same, with `pad` spaces after the JSON (so the raw data starts at any byte offset). */
export function paddedBinaryRequest(header: unknown, pad: number, ...raws: Uint8Array[]): { body: Uint8Array; headers: Record<string, string> } {
  const json = Buffer.from(JSON.stringify(header) + " ".repeat(pad));
  return { body: Buffer.concat([json, ...raws]), headers: { "Content-Type": "application/octet-stream", "Inference-Header-Content-Length": String(json.byteLength) } };
}

/** The bytes of a Float32Array (little-endian on every platform Ferry runs on). */
export const f32Bytes = (a: Float32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Raw little-endian Float32 output bytes as numbers. */
export function f32Of(raw: Uint8Array | undefined): number[] {
  assert.ok(raw, "no raw output");
  assert.equal(raw.byteLength % 4, 0);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  return Array.from({ length: raw.byteLength / 4 }, (_, i) => view.getFloat32(i * 4, true));
}

/** Raw little-endian INT64 output bytes as numbers. */
export function i64Of(raw: Uint8Array | undefined): number[] {
  assert.ok(raw, "no raw output");
  assert.equal(raw.byteLength % 8, 0);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  return Array.from({ length: raw.byteLength / 8 }, (_, i) => Number(view.getBigInt64(i * 8, true)));
}

/**
 * Asserts that `got` holds float32 values (each exactly representable) within `tolerance` (relative) of the
 * generator's references: those come from another onnxruntime build and differ from Ferry's in the last bit
 * (738404.625 vs 738404.6875), for the Wallaroo endpoint as much as for V2.
 */
export function assertNearReference(got: readonly unknown[], expected: readonly number[], tolerance: number, what: string): void {
  assert.equal(got.length, expected.length, `${what}: ${got.length} values, expected ${expected.length}`);
  got.forEach((g, i) => {
    assert.equal(typeof g, "number", `${what}[${i}] is ${JSON.stringify(g)}`);
    const x = g as number;
    assert.equal(Math.fround(x), x, `${what}[${i}]: ${x} is not a float32 value`);
    const e = expected[i]!;
    assert.ok(Math.abs(x - e) / Math.max(Math.abs(e), 1e-12) < tolerance, `${what}[${i}]: ${x} vs reference ${e}`);
  });
}

/** Asserts that `got` holds exactly the Float32 values of `expected` (bit-exact once both are rounded to float32). */
export function assertF32Equal(got: readonly unknown[], expected: readonly number[], what: string): void {
  assert.equal(got.length, expected.length, `${what}: ${got.length} values, expected ${expected.length}`);
  got.forEach((g, i) => {
    assert.equal(typeof g, "number", `${what}[${i}] is ${JSON.stringify(g)}`);
    assert.ok(Object.is(Math.fround(g as number), Math.fround(expected[i]!)), `${what}[${i}]: ${g as number} is not float32 ${expected[i]}`);
  });
}

/** The one output of that name. */
export function outputOf(r: V2Reply, name: string): V2Tensor {
  const o = r.json.outputs.find((x) => x.name === name);
  assert.ok(o, `no output ${name} in ${JSON.stringify(r.json).slice(0, 300)}`);
  return o;
}
