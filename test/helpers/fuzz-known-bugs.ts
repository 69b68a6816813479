/**
 * Inputs that the fuzz test found to get a 5xx or a non-Ferry error body: one arbitrary per known bug,
 * for the skipped properties in test/fuzz.test.ts. The main generators leave these inputs out (see
 * cursorToken and partHeaders in fuzz-bodies.ts, pipelineSegment in fuzz-headers.ts); once a bug is
 * fixed, drop its skip and widen the main generator again.
 */
import fc from "fast-check";
import { FUZZ_MARKER, body, q, type FuzzBody } from "./fuzz-bodies.js";

const enc = new TextEncoder();

/** Cursors in the right format with a seq beyond 2^64 or a partition that is not a string: 500. */
export const forgedCursorBody: fc.Arbitrary<FuzzBody> = fc.oneof(
  fc.record({ seq: fc.constantFrom(1e20, 1e300, 2 ** 64), index: fc.constant(0), order: fc.constantFrom("asc", "desc") }),
  fc.record({ seq: fc.constantFrom(0, 1), index: fc.constant(0), order: fc.constantFrom("asc", "desc"), partition: fc.constantFrom<unknown>(5, true, [], {}) }),
).map((c) => {
  const text = `{"cursor":${q(FUZZ_MARKER)},"cursor":${q(Buffer.from(JSON.stringify(c)).toString("base64url"))}}`;
  return body("logs", enc.encode(text), `logs cursor of ${JSON.stringify(c)}`);
});

/** Path segments with a malformed %-escape: Fastify's own 400 `FST_ERR_BAD_URL` body, not Ferry's. */
export const badEscapeSegment: fc.Arbitrary<string> = fc.tuple(fc.stringMatching(/^[a-z-]{0,8}$/), fc.constantFrom("%", "%z", "%zz", "%G0", "%%")).map(([a, b]) => a + b);

/**
 * Pipeline names of 101–128 characters (valid names: one subject token) and longer ones: Fastify's own
 * 414 `FST_ERR_MAX_PARAM_LENGTH` body (its maxParamLength is 100), so such a pipeline cannot be called.
 */
export const longNameSegment: fc.Arbitrary<string> = fc.integer({ min: 101, max: 1500 }).map((n) => "p".repeat(n));

/**
 * Batch-envelope part headers (NATS) whose Content-Type or Accept is a number, boolean, list or object:
 * 500 `value.replace is not a function` / `accept.trim is not a function`.
 */
export const nonStringPartHeaders: fc.Arbitrary<Record<string, unknown>> = fc.tuple(fc.constantFrom("Content-Type", "Accept"), fc.constantFrom<unknown>(5, true, [], {}, ["application/json"]))
  .map(([k, v]) => (k === "Accept" ? { "Content-Type": "application/json", Accept: v } : { "Content-Type": v }));
