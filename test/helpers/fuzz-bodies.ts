/**
 * Generated request bodies for the fuzz test (test/fuzz.test.ts): random bytes, mutated Arrow files,
 * pandas-records JSON variants, `/logs` queries and NATS batch envelopes.
 *
 * Every arbitrary draws a small *spec* (numbers, choices, token lists) and builds the bytes from it in
 * `map`, so fast-check shrinks the spec, not megabytes of body, and a failure prints as a short label
 * that rebuilds the exact body. Every body of {@link MARKED_FROM} bytes or more carries
 * {@link FUZZ_MARKER} (Arrow bodies excepted: they are checked by 100-byte slices of their files
 * instead), so the log-capture check can prove that no service printed a body.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { tableFromIPC, tableToIPC } from "apache-arrow";
import { encodeEnvelope } from "@ferry/contracts";
import { models } from "./paths.js";
import { prng } from "./prng.js";

/**
 * A string that every fuzzed JSON, bytes and envelope body carries; random per run so that nothing
 * but a fuzzed body can hold it. A valid subject token, so it can also stand as a pipeline name.
 */
export const FUZZ_MARKER = `fzmk${randomBytes(6).toString("hex")}`;

/** Bodies shorter than this (`[]`, `{}`, `[{}]`…) may lack the marker: they are too short to carry it and to matter. */
export const MARKED_FROM = 24;

/** What a body is, for picking a matching Content-Type and for reports. */
export type BodyKind = "bytes" | "arrow" | "pandas" | "logs" | "envelope";

/** One generated body: its bytes and a short label that says how to rebuild them. */
export interface FuzzBody {
  kind: BodyKind;
  bytes: Uint8Array;
  /** Reproducer: the spec the bytes were built from (shrunk by fast-check on failure). */
  label: string;
  /** For envelopes: how many parts the message says it carries (the `Ferry-Batch` header value). */
  batch?: string;
}

const enc = new TextEncoder();

/** Wraps built bytes with a label that fast-check prints instead of the bytes. */
export function body(kind: BodyKind, bytes: Uint8Array, label: string, extra: Partial<FuzzBody> = {}): FuzzBody {
  const b: FuzzBody = { kind, bytes, label, ...extra };
  const show = (): string => `${kind}(${bytes.length} B) ${label}`;
  // Both fast-check's reporter and String() print the label instead of the bytes.
  Object.defineProperty(b, fc.toStringMethod, { value: show, enumerable: false });
  Object.defineProperty(b, "toString", { value: show, enumerable: false });
  return b;
}


// ---------------------------------------------------------------------------------------------
// Random bytes

/** Random bytes with the marker spliced in at a random place: mostly small, sometimes up to `maxBytes`. */
export function randomBytesBody(maxBytes: number): fc.Arbitrary<FuzzBody> {
  const small = fc.uint8Array({ maxLength: 512 }).map((b) => ({ bytes: b, spec: "small" }));
  const large = fc.record({ length: fc.integer({ min: 512, max: maxBytes }), seed: fc.integer() }).map(({ length, seed }) => {
    const next = prng(seed);
    const b = new Uint8Array(length);
    for (let i = 0; i < length; i++) b[i] = (next() * 256) | 0;
    return { bytes: b, spec: `{length:${length},seed:${seed}}` };
  });
  return fc.tuple(fc.oneof({ weight: 9, arbitrary: small }, { weight: 1, arbitrary: large }), fc.nat()).map(([{ bytes, spec }, at]) => {
    const m = enc.encode(FUZZ_MARKER);
    const cut = bytes.length === 0 ? 0 : at % (bytes.length + 1);
    const out = new Uint8Array(bytes.length + m.length);
    out.set(bytes.subarray(0, cut));
    out.set(m, cut);
    out.set(bytes.subarray(cut), cut + m.length);
    const label = spec === "small" ? `bytes ${Buffer.from(out).toString("base64")}` : `prng bytes ${spec} marker at ${cut}`;
    return body("bytes", out, label);
  });
}

// ---------------------------------------------------------------------------------------------
// Arrow

/** The Arrow test files (models/data/*.arrow) and stream-format copies of them, by name. */
export const arrowFiles: ReadonlyMap<string, Uint8Array> = (() => {
  const files = new Map<string, Uint8Array>();
  for (const name of ["houseprice.arrow", "image_224x224.arrow"]) {
    const bytes = new Uint8Array(readFileSync(join(models, "data", name)));
    files.set(name, bytes);
    files.set(`${name} as stream`, tableToIPC(tableFromIPC(bytes), "stream"));
  }
  return files;
})();

/** The original Arrow files only (the stream copies are derived from them). */
export const arrowSourceFiles: readonly Uint8Array[] = ["houseprice.arrow", "image_224x224.arrow"].map((n) => arrowFiles.get(n)!);

/**
 * An Arrow file or stream, cut at a random point and/or with random bit flips. Flips land mostly in
 * the first and last 512 bytes, where the schema, message headers and footer live (a flip among the
 * pixel values only changes a pixel).
 */
export function arrowBody(): fc.Arbitrary<FuzzBody> {
  const names = [...arrowFiles.keys()];
  const flip = fc.record({ zone: fc.constantFrom("head", "head", "tail", "any"), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) });
  return fc.record({
    file: fc.constantFrom(...names),
    cut: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { freq: 2 }),
    flips: fc.array(flip, { maxLength: 6 }),
  }).map(({ file, cut, flips }) => {
    const src = arrowFiles.get(file)!;
    const bytes = new Uint8Array(cut === null ? src : src.subarray(0, Math.floor(src.length * cut)));
    const done: string[] = [];
    for (const f of flips) {
      if (bytes.length === 0) break;
      const span = Math.min(512, bytes.length);
      const at = f.zone === "head" ? f.at % span : f.zone === "tail" ? bytes.length - 1 - (f.at % span) : f.at % bytes.length;
      bytes[at]! ^= 1 << f.bit;
      done.push(`${at}:${f.bit}`);
    }
    return body("arrow", bytes, `arrow ${JSON.stringify(file)} cut ${cut === null ? "none" : `${bytes.length}/${src.length}`} flips [${done.join(" ")}]`);
  });
}

// ---------------------------------------------------------------------------------------------
// pandas-records JSON

/** JSON number texts, including the edges: overflow to Infinity, underflow, -0, beyond 2^53. */
const numberToken: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)) },
  { weight: 4, arbitrary: fc.integer({ min: -1000, max: 10_000 }).map(String) },
  { weight: 2, arbitrary: fc.constantFrom("1e999", "-1e999", "1e-400", "-0", "0.0", "9007199254740993", "1.7976931348623157e308", "5e-324", "123456789012345678901234567890", "1E2") },
);
/** Valid JSON of the wrong type where a number goes (the model wants numbers). */
const wrongToken = fc.constantFrom("\"NaN\"", "\"Infinity\"", "\"-Infinity\"", "\"1.5\"", "\"\"", "true", "false", "null", "{}", "{\"a\":1}", "[]", "[[]]", "\"x\"", "\"\\u0000\"", "\"\\ud800\"");
/** Tokens that are not JSON at all: NaN/Infinity written bare, and other near-misses. */
const bareToken = fc.constantFrom("NaN", "Infinity", "-Infinity", "+1", "01", ".5", "1.", "0x10", "undefined", "'1'", "1e", "--1", "\"\\x41\"", "\"a\nb\"");

const valueToken = fc.oneof({ weight: 60, arbitrary: numberToken }, { weight: 2, arbitrary: wrongToken }, { weight: 1, arbitrary: bareToken });

/** Column names: the house-price model's, near misses, prototype names, the marker itself. */
const columnName = fc.oneof(
  { weight: 12, arbitrary: fc.constant("tensor") },
  { weight: 3, arbitrary: fc.constantFrom("TENSOR", "tensor ", "", "x", "__proto__", "constructor", "toString", "hasOwnProperty", "in", "0", "tensor\u0000", "日本", FUZZ_MARKER) },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
);

/** A JSON string literal. */
export const q = (s: string): string => JSON.stringify(s);

/** Values as a flat list, grouped into nested lists, or a lone scalar (not a list). */
function shapeValues(values: string[], shape: "flat" | "grouped" | "scalar" | "object"): string {
  if (shape === "scalar") return values[0] ?? "1";
  if (shape === "object") return `{${values.map((v, i) => `${q(String(i))}:${v}`).join(",")}}`;
  if (shape === "grouped") {
    const groups: string[] = [];
    for (let i = 0; i < values.length; i += 3) groups.push(`[${values.slice(i, i + 3).join(",")}]`);
    return `[${groups.join(",")}]`;
  }
  return `[${values.join(",")}]`;
}

/** A row: mostly `{"tensor": [18 numbers]}`, with odd widths, shapes, types and extra columns. */
const rowArb = fc.record({
  column: columnName,
  width: fc.oneof({ weight: 8, arbitrary: fc.constant(18) }, { weight: 2, arbitrary: fc.integer({ min: 0, max: 40 }) }),
  values: fc.array(valueToken, { minLength: 40, maxLength: 40 }),
  shape: fc.constantFrom<"flat" | "grouped" | "scalar" | "object">("flat", "flat", "flat", "flat", "flat", "flat", "grouped", "scalar", "object"),
  extra: fc.array(fc.tuple(columnName, valueToken), { maxLength: 2 }),
}).map(({ column, width, values, shape, extra }) => {
  const cols = [`${q(column)}:${shapeValues(values.slice(0, width), shape)}`, ...extra.map(([k, v]) => `${q(k)}:${v}`)];
  return { first: column, text: cols.join(",") };
});

/**
 * Where the marker goes in a rows body. `duplicate` repeats the first row's first key with the marker
 * as value before the real pair: JSON.parse keeps the last, so the body means the same with and without
 * it. The others change the meaning (an extra column, a string among the numbers, trailing garbage).
 */
type Placement = "duplicate" | "column" | "value" | "trailing";
const placement = fc.constantFrom<Placement>("duplicate", "duplicate", "duplicate", "duplicate", "column", "value", "trailing");

function renderRows(rows: { first: string; text: string }[], where: Placement): string {
  const objects = rows.map((r, i) => {
    if (i > 0) return `{${r.text}}`;
    switch (where) {
      case "duplicate": return `{${q(r.first)}:${q(FUZZ_MARKER)},${r.text}}`;
      case "column": return `{${r.text},${q(FUZZ_MARKER)}:${q(FUZZ_MARKER)}}`;
      case "value": return `{${r.text.replace(/\[/, `[${q(FUZZ_MARKER)},`)}}`;
      default: return `{${r.text}}`;
    }
  });
  const text = `[${objects.join(",")}]`;
  return where === "trailing" || !text.includes(FUZZ_MARKER) ? `${text} ${q(FUZZ_MARKER)}` : text;
}

/** Rows of the house-price shape with wrong types, bare NaN/Infinity, ragged widths, 0 rows or 0 columns. */
const rowsBody = fc.record({ rows: fc.array(rowArb, { maxLength: 6 }), where: placement }).map(({ rows, where }) => {
  const text = rows.length === 0 ? "[]" : renderRows(rows, where);
  return body("pandas", enc.encode(text), `rows ${text.length > 600 ? `${text.slice(0, 600)}…` : text}`);
});

/** Small fixed shapes that are easy to get wrong: 0 rows, 0 columns, not an array, scalars. */
const oddShapes = fc.constantFrom(
  "[]", "[{}]", "[{},{}]", "{}", "null", "0", "\"\"", "[null]", "[1]", "[[1,2]]", "[[]]", "[{\"tensor\":[]}]",
  "[{\"tensor\":null}]", "[{\"tensor\":{}}]", "[{\"tensor\":[[],[]]}]", "", " ", "\uFEFF[]", "[{\"tensor\":[1]}", "[{\"tensor\":[1]}]]",
).map((text) => body("pandas", enc.encode(text.length >= MARKED_FROM ? `${text}${FUZZ_MARKER}` : text), `odd ${JSON.stringify(text)}`));

/**
 * Nesting a few hundred levels deep, sometimes thousands: beside a good input column, past ~5000 levels
 * V8's JSON.stringify overflows the stack when the row is echoed (found by this test: it was a 500).
 */
const deepBody = fc.record({
  depth: fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 1, max: 800 }) }, { weight: 1, arbitrary: fc.integer({ min: 800, max: 20_000 }) }),
  kind: fc.constantFrom("list-in-tensor", "object-in-tensor", "top-level-lists", "unclosed", "deep-extra-column", "deep-extra-object"),
}).map(({ depth, kind }) => {
  const good = `[${Array.from({ length: 18 }, (_, i) => i + 0.5).join(",")}]`;
  const m = q(FUZZ_MARKER);
  const text = ((): string => {
    switch (kind) {
      case "list-in-tensor": return `[{"tensor":${m},"tensor":${"[".repeat(depth)}1${"]".repeat(depth)}}]`;
      case "object-in-tensor": return `[{"tensor":${m},"tensor":${"{\"a\":".repeat(depth)}1${"}".repeat(depth)}}]`;
      case "top-level-lists": return `${"[".repeat(depth)}${m}${"]".repeat(depth)}`;
      case "unclosed": return `[{"tensor":${m},"tensor":${"[".repeat(depth)}1,`;
      // A good input column beside a deep one that no model reads: the row is echoed and logged.
      case "deep-extra-column": return `[{"tensor":${good},"deep":${m},"deep":${"[".repeat(depth)}0${"]".repeat(depth)}}]`;
      default: return `[{"tensor":${good},"deep":${m},"deep":${"{\"a\":".repeat(depth)}0${"}".repeat(depth)}}]`;
    }
  })();
  return body("pandas", enc.encode(text), `deep {depth:${depth},kind:${JSON.stringify(kind)}}`);
});

/**
 * Large bodies within the body limit: thousands of rows, one 10^5–10^6-wide row, or whole images for
 * the image model; the last row may be ragged, mistyped or missing the column (so most are parsed in
 * full and then refused: valid ones leave a log record per row).
 */
function hugeBody(maxBytes: number): fc.Arbitrary<FuzzBody> {
  return fc.record({
    kind: fc.constantFrom("many-rows", "wide-row", "images"),
    n: fc.nat(),
    tail: fc.constantFrom("valid", "ragged", "string", "missing", "bare-nan"),
    seed: fc.integer(),
  }).map(({ kind, n, tail, seed }) => {
    const next = prng(seed);
    const digit = (): string => String((next() * 10) | 0);
    const head = `[{"tensor":${q(FUZZ_MARKER)},`;
    const rows: string[] = [];
    let width: number;
    let count: number;
    if (kind === "many-rows") [width, count] = [18, 500 + (n % 7500)];
    else if (kind === "wide-row") [width, count] = [100_000 + (n % 900_001), 1];
    else [width, count] = [3 * 224 * 224, 1 + (n % 3)];
    // Two bytes a value ("d,"): keep the body under the limit by dropping rows/width if needed.
    while (count > 1 && count * (width * 2 + 16) > maxBytes * 0.95) count--;
    if (width * 2 + 16 > maxBytes * 0.95) width = Math.floor((maxBytes * 0.95 - 16) / 2);
    for (let r = 0; r < count; r++) {
      const last = r === count - 1;
      let w = width;
      if (last && tail === "ragged") w = width - 1;
      const values = new Array<string>(w);
      for (let i = 0; i < w; i++) values[i] = digit();
      if (last && tail === "string") values[w - 1] = "\"7\"";
      if (last && tail === "bare-nan") values[w - 1] = "NaN";
      const col = last && tail === "missing" ? "tensr" : "tensor";
      rows.push(r === 0 ? `"${col}":[${values.join(",")}]}` : `{"${col}":[${values.join(",")}]}`);
    }
    const text = head + rows.join(",") + "]";
    return body("pandas", enc.encode(text), `huge {kind:${JSON.stringify(kind)},rows:${count},width:${width},tail:${JSON.stringify(tail)},seed:${seed}}`);
  });
}

/** Any JSON value at all, with the marker beside it (fast-check's own JSON generator). */
const anyJson = fc.tuple(fc.jsonValue({ maxDepth: 4 }), fc.boolean()).map(([v, wrap]) => {
  const text = wrap ? `{${q(FUZZ_MARKER)}:${JSON.stringify(v)}}` : `[${JSON.stringify(v)},${q(FUZZ_MARKER)}]`;
  return body("pandas", enc.encode(text), `json ${text.length > 600 ? `${text.slice(0, 600)}…` : text}`);
});

/** pandas-records bodies and near misses, every kind the brief lists; large ones stay under `maxBytes`. */
export function pandasBody(maxBytes: number): fc.Arbitrary<FuzzBody> {
  return fc.oneof(
    { weight: 40, arbitrary: rowsBody },
    { weight: 6, arbitrary: oddShapes },
    { weight: 8, arbitrary: deepBody },
    { weight: 6, arbitrary: anyJson },
    { weight: 1, arbitrary: hugeBody(maxBytes) },
  );
}

// ---------------------------------------------------------------------------------------------
// /logs queries

/** Cursors: real ones handed out by the site, mutated ones, forged ones with odd fields, junk. */
function cursorToken(real: readonly string[]): fc.Arbitrary<string> {
  const forged = fc.record({
    seq: fc.constantFrom<unknown>(0, 1, 2, -1, 1.5, 2 ** 53, 2 ** 64, 1e20, 1e300, "1", null),
    index: fc.constantFrom<unknown>(0, 1, -1, 1e9, 0.5, null),
    order: fc.constantFrom<unknown>("asc", "desc", "sideways", 1),
    pipeline: fc.constantFrom<unknown>(undefined, "edge-houseprice", "a.b", "*", 7),
    partition: fc.constantFrom<unknown>(undefined, "test-site", "", 5, true, [], {}),
    startTime: fc.constantFrom<unknown>(undefined, 0, -1, 1e300, 8.64e15 + 1, "x"),
    endTime: fc.constantFrom<unknown>(undefined, 0, 1e300, -8.64e15 - 1),
  }).map((c) => Buffer.from(JSON.stringify(c)).toString("base64url"));
  const realOnes = real.length > 0 ? fc.constantFrom(...real) : fc.constant("");
  const mutated = fc.tuple(realOnes, fc.nat(), fc.constantFrom("A", "_", "-", "=", "", "!!")).map(([c, at, ch]) => {
    const i = c.length === 0 ? 0 : at % c.length;
    return c.slice(0, i) + ch + c.slice(i + 1);
  });
  return fc.oneof(realOnes, mutated, forged, fc.base64String({ maxLength: 60 }), fc.string({ maxLength: 30 }))
    .map((c) => q(c));
}

/**
 * Time parameter values: ms, RFC 3339, out-of-range numbers (beyond JavaScript's Date, or beyond the
 * years 0000–9999 that JetStream's seek parses: both were 500s found by this test), near-miss strings,
 * wrong types.
 */
const timeToken = fc.oneof(
  fc.integer({ min: 0, max: 4_102_444_800_000 }).map(String),
  fc.integer({ min: -8_640_000_000_000_000, max: 8_640_000_000_000_000 }).map(String),
  fc.date({ noInvalidDate: true }).map((d) => q(d.toISOString())),
  fc.constantFrom("0", "-1", "1.5", "1e3", "1e15", "-1e14", "1e300", "-1e300", "8640000000000001", "-8640000000000001", "9007199254740993", "1e20", "253402300800000", "-62167219200001"),
  fc.constantFrom("\"yesterday\"", "\"\"", "\"2024-13-45T99:99:99Z\"", "\"2024-01-01\"", "\"99999999999999999999\"", "\"-1\"", "\"1e3\"", "\"0\"", "\"2024-01-01T00:00:00+25:00\"", "\"+275760-09-13T00:00:00.001Z\"", "\"0000-01-01T00:00:00Z\"", "\"9999-12-31T23:59:59Z\""),
  fc.constantFrom("null", "true", "{}", "[]", "NaN", "Infinity", "-Infinity"),
);
const pageSizeToken = fc.constantFrom("1", "2", "3", "10", "1000", "10000", "10001", "1000000000", "0", "-1", "1.5", "\"10\"", "null", "1e308", "9007199254740993", "-0", "true", "Infinity", "NaN", "[]");
const orderToken = fc.constantFrom("\"asc\"", "\"ASC\"", "\"Asc\"", "\"desc\"", "\"Desc\"", "\"DESC\"", "\"sideways\"", "\"\"", "\"asc \"", "1", "null", "true", "[]", "{}", "[\"asc\"]");
const pipelineToken = fc.oneof(
  fc.constantFrom("\"edge-houseprice\"", "\"edge-cv-demo\"", "\"edge-houseprice-bucketed\"", q(FUZZ_MARKER), "\"a.b\"", "\"*\"", "\">\"", "\"\"", q("x".repeat(129)), "5", "null", "[]"),
  fc.stringMatching(/^[A-Za-z0-9_-]{1,20}$/).map(q),
);
const partitionToken = fc.constantFrom("\"test-site\"", q(FUZZ_MARKER), "\"\"", q("x".repeat(254)), "\"a.b c\"", "\"*\"", "5", "null", "\"日本\"");

/**
 * `/logs` bodies: objects with the real parameter names and values of every type (rendered as text,
 * so bare NaN/Infinity can appear), unknown names, and bodies that are not objects or not JSON.
 * `realCursors` are cursors the site handed out before the fuzzing.
 */
export function logsBody(realCursors: readonly string[]): fc.Arbitrary<FuzzBody> {
  const param = fc.oneof(
    fc.tuple(fc.constant("pipeline"), pipelineToken),
    fc.tuple(fc.constant("pipeline_name"), pipelineToken),
    fc.tuple(fc.constant("partition"), partitionToken),
    fc.tuple(fc.constant("start_time"), timeToken),
    fc.tuple(fc.constant("end_time"), timeToken),
    fc.tuple(fc.constant("page_size"), pageSizeToken),
    fc.tuple(fc.constant("limit"), pageSizeToken),
    fc.tuple(fc.constant("order"), orderToken),
    fc.tuple(fc.constant("cursor"), cursorToken(realCursors)),
    fc.tuple(fc.constantFrom("nonsense", "Pipeline", "__proto__", "constructor", ""), fc.constantFrom("1", "null", "\"x\"")),
  );
  const object = fc.record({ params: fc.array(param, { maxLength: 5 }), dupMarker: fc.nat(9) }).map(({ params, dupMarker }) => {
    // As in rows bodies: a duplicate key carries the marker and JSON.parse keeps the later, real value.
    const pairs = params.map(([k, v]) => `${q(k)}:${v}`);
    if (params.length > 0 && dupMarker < 8) pairs.unshift(`${q(params[0]![0])}:${q(FUZZ_MARKER)}`);
    const text = `{${pairs.join(",")}}`;
    return body("logs", enc.encode(text.length >= MARKED_FROM && !text.includes(FUZZ_MARKER) ? `${text}${FUZZ_MARKER}` : text), `logs ${text}`);
  });
  const notObject = fc.constantFrom("", "{}", " ", "null", "[]", "[{}]", "\"x\"", "1", "{oops", "{\"page_size\":", "{\"order\":\"asc\"}}")
    .map((text) => body("logs", enc.encode(text.length >= MARKED_FROM ? `${text}${FUZZ_MARKER}` : text), `logs ${JSON.stringify(text)}`));
  // Past ~5000 levels the 400's message could not stringify the value (a 500 found by this test).
  const deep = fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1000, max: 20_000 })).map((d) => {
    const text = `{"pipeline":${q(FUZZ_MARKER)},"pipeline":${"{\"a\":".repeat(d)}1${"}".repeat(d)}}`;
    return body("logs", enc.encode(text), `logs deep object {depth:${d}}`);
  });
  return fc.oneof({ weight: 20, arbitrary: object }, { weight: 3, arbitrary: notObject }, { weight: 1, arbitrary: deep }, { weight: 2, arbitrary: randomBytesBody(4096) });
}

// ---------------------------------------------------------------------------------------------
// NATS batch envelopes

/** Part header values: mostly media types, sometimes another JSON type. */
const partHeaderValue = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom("application/json; format=pandas-records", "application/json", "application/vnd.apache.arrow.file", "application/vnd.apache.arrow.stream", "text/plain", "", "*/*") },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(5, true, null, [], {}, ["application/json"]) },
);

/** Header JSON of an envelope part: real names (and near misses) with odd values. */
export function partHeaders(value: fc.Arbitrary<unknown> = partHeaderValue): fc.Arbitrary<Record<string, unknown>> {
  return fc.dictionary(fc.constantFrom("Content-Type", "Accept", "Ferry-Split-Key", "Ferry-Request-Id", "Ferry-Status", "content-type", "x"), value, { maxKeys: 4 });
}

/**
 * Ferry's batch envelope (see contracts/src/batch-envelope.ts) as a device could send it on NATS:
 * well-framed parts with odd part headers and bodies, then maybe cut, corrupted, or announced with the
 * wrong `Ferry-Batch` count.
 */
export function envelopeBody(headers: fc.Arbitrary<Record<string, unknown>> = partHeaders()): fc.Arbitrary<FuzzBody> {
  const partBody = fc.oneof({ weight: 4, arbitrary: pandasBody(64 * 1024).filter((b) => b.bytes.length < 64 * 1024) }, { weight: 1, arbitrary: randomBytesBody(1024) }, { weight: 1, arbitrary: arrowBody().filter((b) => b.bytes.length < 8192) });
  return fc.record({
    parts: fc.array(fc.tuple(headers, partBody), { minLength: 1, maxLength: 4 }),
    damage: fc.constantFrom("none", "none", "none", "cut", "huge-length", "bad-json-header", "array-header"),
    at: fc.nat(),
    count: fc.constantFrom("right", "right", "right", "0", "-1", "abc", "1e3", " 2 ", "99999999999", "2.5"),
  }).map(({ parts, damage, at, count }) => {
    const framed = encodeEnvelope(parts.map(([h, b]) => ({ headers: h as Record<string, string>, body: b.bytes })));
    let bytes = framed;
    if (damage === "cut") bytes = framed.subarray(0, at % (framed.length + 1));
    if (damage === "huge-length") {
      bytes = new Uint8Array(framed);
      new DataView(bytes.buffer).setUint32(0, 0xffffffff);
    }
    if (damage === "bad-json-header" || damage === "array-header") {
      const head = enc.encode(damage === "array-header" ? "[1,2]" : "{\"Content-Type\":");
      const rest = framed.subarray(4 + new DataView(framed.buffer, framed.byteOffset).getUint32(0));
      bytes = new Uint8Array(4 + head.length + rest.length);
      new DataView(bytes.buffer).setUint32(0, head.length);
      bytes.set(head, 4);
      bytes.set(rest, 4 + head.length);
    }
    // The marker in the body as well when the damage may have cut the parts that carried it.
    if (bytes.length >= MARKED_FROM && !Buffer.from(bytes).includes(FUZZ_MARKER)) {
      const m = enc.encode(FUZZ_MARKER);
      const out = new Uint8Array(bytes.length + m.length);
      out.set(bytes);
      out.set(m, bytes.length);
      bytes = out;
    }
    const batch = count === "right" ? String(parts.length) : count;
    const label = `envelope {damage:${JSON.stringify(damage)},batch:${JSON.stringify(batch)}} parts [${parts.map(([h, b]) => `${JSON.stringify(h)} ${b.kind}(${b.bytes.length} B) ${b.label.slice(0, 200)}`).join(" | ")}]`;
    return body("envelope", bytes, label, { batch });
  });
}

/** Any inference body: the mix the HTTP inference targets and `ferry.infer[.<pipeline>]` get. */
export function inferenceBody(maxBytes: number): fc.Arbitrary<FuzzBody> {
  return fc.oneof(
    { weight: 12, arbitrary: pandasBody(maxBytes) },
    { weight: 5, arbitrary: arrowBody() },
    { weight: 3, arbitrary: randomBytesBody(maxBytes) },
  );
}
