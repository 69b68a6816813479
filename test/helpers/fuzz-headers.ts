/**
 * Generated request headers and pipeline names for the fuzz test: wrong, missing, doubled and huge
 * Content-Type and Accept values, odd extra headers (HTTP), random header names and values (NATS).
 */
import fc from "fast-check";
import type { BodyKind } from "./fuzz-bodies.js";

const PANDAS = "application/json; format=pandas-records";
const ARROW_FILE = "application/vnd.apache.arrow.file";
const ARROW_STREAM = "application/vnd.apache.arrow.stream";

/** The Content-Type a well-behaved client would send for a body kind. */
function matchingContentType(kind: BodyKind): fc.Arbitrary<string> {
  switch (kind) {
    case "arrow": return fc.constantFrom(ARROW_FILE, ARROW_STREAM);
    case "logs": return fc.constantFrom("application/json", PANDAS, "Content-Type: application/json; format=pandas-records");
    default: return fc.constantFrom(PANDAS, "application/json");
  }
}

/**
 * Header value text: printable ASCII and tabs. fetch (undici) refuses control characters and even
 * Latin-1 in values, so no client of ours can send more; Node's HTTP parser would refuse them anyway.
 */
const headerText = (maxLength: number): fc.Arbitrary<string> => fc.string({
  unit: fc.oneof({ weight: 30, arbitrary: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) }, { weight: 1, arbitrary: fc.constant("\t") }),
  maxLength,
}).map((s) => s.trim());

/** A header value far longer than any real one, yet under Node's 16 KiB limit for all headers. */
const hugeValue = fc.record({ length: fc.integer({ min: 1000, max: 8000 }), prefix: fc.constantFrom("", "application/json;", `${PANDAS};`, `${ARROW_FILE},`) })
  .map(({ length, prefix }) => prefix + "x=1;".repeat(length / 4).slice(0, length));

/** Content-Type values that are wrong, doubled, decorated or broken. */
const oddContentType = fc.constantFrom(
  "text/plain", "text/csv", "", "application/octet-stream", "application/JSON", " application/json ", "APPLICATION/VND.APACHE.ARROW.FILE",
  "Content-Type: application/json; format=pandas-records", "Content-Type: Content-Type: application/json", "content-type:application/json",
  "CONTENT-TYPE : application/vnd.apache.arrow.file", "application/json; charset=utf-16", "application/json;;;;", "application/json; format=",
  "application/vnd.apache.arrow.file; charset=\"", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded", "*/*", "application/*",
  "application/json, application/vnd.apache.arrow.file", "application/vnd.apache.arrow.file; format=pandas-records", ";", "/", "a/b/c", "json",
);

/** Accept values: absent, wildcards, both formats, nothing Ferry makes, lists, broken parameters. */
const oddAccept = fc.constantFrom(
  "*/*", "application/json", PANDAS, ARROW_FILE, ARROW_STREAM, "text/html", "", ",,,", "application/*;q=0", "image/png, application/vnd.apache.arrow.stream",
  "text/html;q=1, application/json;q=0.1", "application/vnd.apache.arrow.file; q=abc", "*", "*/json", "Accept: application/json", "application/json;format=arrow",
);

/** Extra header names: Ferry's own and random ones (tokens fetch accepts; none that change the framing). */
const extraName = fc.oneof(
  fc.constantFrom("Ferry-Request-Id", "Ferry-Split-Key", "Ferry-Batch", "Ferry-Status", "X-Forwarded-For", "Content-Encoding", "Authorization", "Cookie", "Range", "If-None-Match", "Origin"),
  fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,30}$/),
).filter((n) => !["content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "expect", "host", "te", "trailer", "content-type", "accept", "proxy-connection", "http2-settings"].includes(n.toLowerCase()));

/** Header sets for an HTTP request with a body of `kind`; the total stays under Node's 16 KiB header limit. */
export function httpHeaders(kind: BodyKind): fc.Arbitrary<Record<string, string>> {
  const contentType = fc.oneof(
    { weight: 14, arbitrary: matchingContentType(kind) },
    { weight: 4, arbitrary: oddContentType },
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: headerText(80) },
    { weight: 1, arbitrary: hugeValue },
  );
  const accept = fc.oneof(
    { weight: 10, arbitrary: fc.constant(undefined) },
    { weight: 5, arbitrary: oddAccept },
    { weight: 1, arbitrary: headerText(80) },
    { weight: 1, arbitrary: hugeValue },
  );
  const extra = fc.array(fc.tuple(extraName, fc.oneof({ weight: 8, arbitrary: headerText(60) }, { weight: 1, arbitrary: hugeValue })), { maxLength: 3 });
  return fc.record({ contentType, accept, extra }).map(({ contentType, accept, extra }) => {
    const h: Record<string, string> = {};
    for (const [k, v] of extra) h[k] = v;
    if (contentType !== undefined) h["Content-Type"] = contentType;
    if (accept !== undefined) h.Accept = accept;
    return h;
  }).filter((h) => Object.entries(h).reduce((n, [k, v]) => n + k.length + v.length + 4, 0) < 12 * 1024);
}

/** NATS header names: valid characters are ASCII 33–126 except ':' (nats.js refuses others). */
const natsName = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom("Content-Type", "Accept", "Ferry-Request-Id", "Ferry-Split-Key", "Ferry-Status", "Nats-Msg-Id", "content-type", "CONTENT-TYPE", "Ferry-Batch") },
  { weight: 1, arbitrary: fc.string({ unit: fc.integer({ min: 33, max: 126 }).filter((c) => c !== 58).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 20 }) },
);

/**
 * Header sets for a NATS request with a body of `kind`: the Content-Type a device would send, an odd
 * one or none, plus random names and values. Envelope bodies also get their `Ferry-Batch` count.
 */
export function natsHeaders(kind: BodyKind, batch?: string): fc.Arbitrary<[string, string][]> {
  const contentType = fc.oneof({ weight: 6, arbitrary: matchingContentType(kind) }, { weight: 2, arbitrary: oddContentType }, { weight: 1, arbitrary: fc.constant(undefined) });
  const accept = fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 2, arbitrary: oddAccept });
  const extra = fc.array(fc.tuple(natsName, fc.oneof(oddAccept, oddContentType, headerText(60), fc.constantFrom("0", "1", "-1", "abc", "2"))), { maxLength: 3 });
  return fc.record({ contentType, accept, extra }).map(({ contentType, accept, extra }) => {
    const h: [string, string][] = [];
    if (contentType !== undefined) h.push(["Content-Type", contentType]);
    if (accept !== undefined) h.push(["Accept", accept]);
    // An envelope carries its count; any other body may carry a stray Ferry-Batch among the extras.
    if (batch !== undefined) h.push(["Ferry-Batch", batch]);
    return [...h, ...extra.filter(([k]) => batch === undefined || k.toLowerCase() !== "ferry-batch")];
  });
}

/**
 * Path segments for `POST /pipelines/{name}`: real names, unknown tokens, dots, wildcards, percent-escapes
 * and slashes as a client could type them, random text (URI-encoded), malformed %-escapes, and names of
 * 100 to 1,500 characters.
 */
export const pipelineSegment: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom("edge-houseprice", "edge-cv-demo", "edge-houseprice-bucketed") },
  { weight: 3, arbitrary: fc.constantFrom("a.b", "*", "%3E", "ferry.infer", "..", "%2e%2e", "edge-houseprice.x", "edge-houseprice%20", "%20", "EDGE-HOUSEPRICE", "x".repeat(100), "%E6%97%A5", "a%00b", "a/b", "a%2Fb", ";", "edge-houseprice;x=1", "%25") },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/) },
  { weight: 2, arbitrary: fc.string({ minLength: 1, maxLength: 40 }).map(encodeURIComponent) },
  { weight: 1, arbitrary: fc.tuple(fc.stringMatching(/^[a-z-]{0,8}$/), fc.constantFrom("%", "%z", "%zz", "%G0", "%%")).map(([a, b]) => a + b) },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 1500 }).map((n) => "p".repeat(n)) },
);
