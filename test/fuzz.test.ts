/**
 * Hostile input: a property-based fuzz test (fast-check) that throws over 10,000 generated requests at
 * POST /infer, /pipelines/{name} and /logs and at the NATS subjects ferry.infer, ferry.infer.<pipeline>
 * and ferry.logs.query: random bytes, truncated and bit-flipped Arrow files, deep, huge and mistyped
 * pandas-records JSON, bare NaN/Infinity, extreme shapes, odd /logs parameters and odd headers.
 *
 * Every reply must be a 2xx or a 4xx JSON error (see helpers/fuzz-check.ts for the two 5xx answers to
 * load that inference targets may give); afterwards the site must still serve, hold every record logged
 * before the fuzzing, have bounded memory, and its pino logs (captured at debug level) must not hold
 * any body. The five bugs it found after its first run (forged /logs cursors, non-string part headers in
 * NATS batch envelopes, malformed %-escapes and long names in URLs, /logs reads bounded by num_pending)
 * are fixed, with regression tests in errors.test.ts and logs.test.ts.
 *
 * Replay a failure with FUZZ_SEED=<seed> (fast-check prints the seed and the shrunk input);
 * FUZZ_EXPLORE=1 lists every kind of bad reply instead of stopping at the first.
 */
import assert from "node:assert/strict";
import { after, before, describe, it, type TestContext } from "node:test";
import fc from "fast-check";
import { headers as natsHeaders } from "@nats-io/transport-node";
import type { LogRecord } from "@ferry/contracts";
import { houseRef } from "./helpers/paths.js";
import { PANDAS, houseRecords, post, startTestSite, until, type TestSite } from "./helpers/site.js";
import { FUZZ_MARKER, MARKED_FROM, arrowFiles, envelopeBody, inferenceBody, logsBody, type FuzzBody } from "./helpers/fuzz-bodies.js";
import { httpHeaders, natsHeaders as fuzzNatsHeaders, pipelineSegment } from "./helpers/fuzz-headers.js";
import { LOAD_ANSWERS, Tally, httpPost, natsRequest, problemOf, type Reply } from "./helpers/fuzz-check.js";
import { LogCapture } from "./helpers/fuzz-log-capture.js";

/**
 * The gateway's body limit here: 4 MiB instead of the default 16 MiB keeps 16 huge bodies in flight
 * within memory and time on a 2-core machine, and stays under the test nats-server's 8 MiB max_payload.
 * Large generated bodies reach up to 1.25× this limit, so some get 413.
 */
const BODY_LIMIT = 4 * 1024 * 1024;
/** Requests in flight at once: each property run sends one batch of this many inputs concurrently. */
const BATCH = 16;
/** A reply later than this is a hang (the gateway's own reply timeout is 15 s). */
const REPLY_TIMEOUT_MS = 30_000;
/** Records logged before the fuzzing: these must all still be there afterwards. */
const GOOD_REQUESTS = 8;
const ROWS_PER_REQUEST = 5;
const N = GOOD_REQUESTS * ROWS_PER_REQUEST;
/** First input value of the good rows: record i has tensor[0] = MARK_BASE + i. */
const MARK_BASE = 7_770_000;
/**
 * The full run (`npm run fuzz`, FERRY_FUZZ=1) sends every input below; `npm test` sends a fifth of them
 * (about 2,100 in some 15 s), so CI catches a regression without the minute and a half. FUZZ_SCALE overrides.
 */
const SCALE = Number(process.env.FUZZ_SCALE ?? (process.env.FERRY_FUZZ === "1" ? 1 : 0.2));
/** Generated inputs per target at scale 1 (10,600 in all). The /logs targets run first, on the good records alone. */
const INPUTS = {
  "POST /logs": 1200,
  "NATS ferry.logs.query": 600,
  "POST /infer": 2400,
  "POST /pipelines/edge-houseprice": 1600,
  "POST /pipelines/edge-cv-demo": 1200,
  "POST /pipelines/{random}": 800,
  "NATS ferry.infer": 1200,
  "NATS ferry.infer.edge-houseprice": 1600,
} as const;
/**
 * The inferer's Arrow decoding time limit here (default 3 s): a body that hits it gets 400 and its
 * thread is replaced either way; 2 s keeps the few such bodies, and the requests coalesced with them,
 * from dominating the run.
 */
const ARROW_DECODE_TIMEOUT_MS = 2000;

/** `npm test` uses one fixed seed (the same inputs every run, so CI is reproducible); `npm run fuzz` a new one each time. */
const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : process.env.FERRY_FUZZ === "1" ? undefined : 20261125;
/**
 * FUZZ_EXPLORE=1: do not stop at the first bad reply; list every kind of bad reply with one input that
 * got it (for hunting bugs; the test then passes whatever it finds, so never set it in CI).
 */
const explore = process.env.FUZZ_EXPLORE === "1";
const found = new Map<string, string>();
function noteProblem(target: string, problem: string, input: unknown): void {
  const kind = `${target}: ${problem.replace(/\d+/g, "#").slice(0, 140)}`;
  if (!found.has(kind)) found.set(kind, `${problem.slice(0, 400)}\n      input: ${String(input).slice(0, 1500)}`);
}

/** An HTTP input: body, headers and the path it goes to. */
interface HttpInput {
  path: string;
  body: FuzzBody;
  headers: Record<string, string>;
}

/** A NATS input: subject, body and headers (in order; names may repeat). */
interface NatsInput {
  subject: string;
  body: FuzzBody;
  headers: [string, string][];
}

/** Prints an input as its body's label plus headers, with huge header values cut (fast-check's reporter calls this). */
function labelled<T extends { body: FuzzBody }>(input: T, extra: string): T {
  const show = (): string => `${extra} ${String(input.body)}`;
  Object.defineProperty(input, fc.toStringMethod, { value: show, enumerable: false });
  Object.defineProperty(input, "toString", { value: show, enumerable: false });
  return input;
}

const shortHeaders = (h: Record<string, string> | [string, string][]): string =>
  JSON.stringify(Object.entries(Array.isArray(h) ? Object.fromEntries(h) : h).map(([k, v]) => [k, v.length > 120 ? `${v.slice(0, 60)}…(${v.length} chars)` : v]));

function httpInput(path: fc.Arbitrary<string>, bodies: fc.Arbitrary<FuzzBody>): fc.Arbitrary<HttpInput> {
  return fc.tuple(path, bodies).chain(([p, body]) => httpHeaders(body.kind).map((headers) => labelled({ path: p, body, headers }, `POST ${p} headers ${shortHeaders(headers)}`)));
}

function natsInput(subject: string, bodies: fc.Arbitrary<FuzzBody>): fc.Arbitrary<NatsInput> {
  return bodies.chain((body) => fuzzNatsHeaders(body.kind, body.batch).map((headers) => labelled({ subject, body, headers }, `${subject} headers ${shortHeaders(headers)}`)));
}

describe("hostile input: generated requests get 2xx or 4xx JSON and the site survives", { timeout: 600_000 }, () => {
  const capture = new LogCapture(FUZZ_MARKER, [...arrowFiles.values()]);
  const tally = new Tally();
  let site: TestSite;
  let rssBefore = 0;
  const cursors: string[] = [];
  const started = Date.now();

  /** Every stored record, paged through /logs from the start (before the fuzzing: one pipeline's records). */
  async function allRecords(): Promise<LogRecord[]> {
    const out: LogRecord[] = [];
    let params: Record<string, unknown> = { start_time: 0, page_size: 10_000 };
    for (let page = 0; page < 1000; page++) {
      const res = await fetch(`${site.url}/logs`, { method: "POST", body: JSON.stringify(params), headers: { "Content-Type": "application/json" } });
      assert.equal(res.status, 200);
      out.push(...(await res.json()) as LogRecord[]);
      if (res.headers.get("x-iteration-status") === "End") return out;
      params = { cursor: res.headers.get("x-iteration-cursor"), page_size: 10_000 };
    }
    assert.fail("paging /logs did not end");
  }

  /** tensor[0] of a record that is one of the N good ones, else undefined. */
  const goodIndex = (r: LogRecord): number | undefined => {
    const first = (r.in as { tensor?: unknown }).tensor;
    const v = Array.isArray(first) ? first[0] : undefined;
    return typeof v === "number" && v >= MARK_BASE && v < MARK_BASE + N ? v - MARK_BASE : undefined;
  };

  before(async () => {
    const log = capture.logger;
    site = await startTestSite({
      gateway: { bodyLimit: BODY_LIMIT, logger: log.child({ service: "gateway" }) },
      inferer: { logger: log.child({ service: "inferer" }), arrowDecodeTimeoutMs: ARROW_DECODE_TIMEOUT_MS },
      logger: { logger: log.child({ service: "logger" }) },
    });
    for (let k = 0; k < GOOD_REQUESTS; k++) {
      const rows = Array.from({ length: ROWS_PER_REQUEST }, (_, j) => {
        const i = k * ROWS_PER_REQUEST + j;
        return [MARK_BASE + i, ...houseRef.rows[i % houseRef.rows.length]!.slice(1)];
      });
      const r = await post(`${site.url}/infer`, houseRecords(rows), { "Content-Type": PANDAS });
      assert.equal(r.status, 200);
    }
    await until("the good records to be stored", async () => site.inferer!.logStats().published >= N, 20_000);
    const stored = await allRecords();
    assert.equal(stored.length, N, "exactly the good records before the fuzzing");
    assert.deepEqual(stored.map(goodIndex).sort((a, b) => a! - b!), Array.from({ length: N }, (_, i) => i));
    // Real cursors for the /logs properties, from each kind of page.
    for (const params of [{ page_size: 3 }, { start_time: 0, page_size: 3 }, { order: "desc", page_size: 3 }, { pipeline: "edge-houseprice", start_time: 0, page_size: 2 }]) {
      const res = await fetch(`${site.url}/logs`, { method: "POST", body: JSON.stringify(params), headers: { "Content-Type": "application/json" } });
      const c = res.headers.get("x-iteration-cursor");
      if (c) cursors.push(c);
      await res.arrayBuffer();
    }
    assert.ok(cursors.length > 0);
    rssBefore = process.memoryUsage().rss;
  });

  after(async () => { await site?.stop(); });

  /**
   * Sends `inputs` generated inputs to `target`, BATCH at a time (one property run = one concurrent
   * batch), and fails with the first bad reply, shrunk by fast-check to a small reproducer.
   */
  async function fuzz<I extends { body: FuzzBody }>(target: string, inputs: number, arb: fc.Arbitrary<I>, send: (input: I) => Promise<Reply[]>): Promise<string> {
    const load = /logs/.test(target) ? {} : LOAD_ANSWERS;
    const t0 = Date.now();
    const sent0 = tally.inputs(target);
    const property = fc.asyncProperty(fc.array(arb, { minLength: BATCH, maxLength: BATCH }), async (batch) => {
      const problems = await Promise.all(batch.map(async (input) => {
        const b = input.body.bytes;
        if (b.length >= MARKED_FROM && input.body.kind !== "arrow" && !Buffer.from(b.buffer, b.byteOffset, b.length).includes(FUZZ_MARKER)) {
          return `the generator left the marker out of a body: ${String(input.body)}`;
        }
        const t = Date.now();
        let replies: Reply[];
        try {
          replies = await send(input);
        } catch (err) {
          return `no reply: ${(err as Error).message}${(err as Error).cause ? ` (${String((err as Error).cause)})` : ""}`;
        }
        tally.add(target, input, replies, Date.now() - t);
        return replies.map((r) => problemOf(r, load)).find((p) => p !== undefined);
      }));
      problems.forEach((p, i) => { if (p !== undefined && explore) noteProblem(target, p, batch[i]!); });
      const bad = problems.findIndex((p) => p !== undefined);
      if (bad >= 0 && !explore) throw new Error(`${target}: ${problems[bad]}\n  input: ${String(batch[bad])}`);
    });
    const run = await fc.check(property, { numRuns: Math.ceil(inputs / BATCH), seed, interruptAfterTimeLimit: 240_000, markInterruptAsFailure: true });
    if (run.failed) {
      // node:test prints no error causes: put fast-check's seed and the shrunk failure in the message.
      const why = run.errorInstance instanceof Error ? run.errorInstance.message : run.interrupted ? "interrupted (time limit)" : String(run.errorInstance);
      throw new Error(`${why}\n  (replay: FUZZ_SEED=${run.seed}; fast-check path ${run.counterexamplePath ?? "-"}; shrunk ${run.numShrinks} times)`);
    }
    return `${target}: ${tally.inputs(target) - sent0} inputs in ${((Date.now() - t0) / 1000).toFixed(1)} s`;
  }

  const http = (input: HttpInput): Promise<Reply[]> => httpPost(`${site.url}${input.path}`, input.body.bytes, input.headers, REPLY_TIMEOUT_MS).then((r) => [r]);
  const nats = (input: NatsInput): Promise<Reply[]> => natsRequest(site.client, input.subject, input.body.bytes, input.headers, REPLY_TIMEOUT_MS);
  const large = Math.floor(BODY_LIMIT * 1.25);

  const main = <I extends { body: FuzzBody }>(target: keyof typeof INPUTS, arb: fc.Arbitrary<I>, send: (input: I) => Promise<Reply[]>) =>
    async (t: TestContext): Promise<void> => { t.diagnostic(await fuzz(target, Math.max(BATCH, Math.round(INPUTS[target] * SCALE)), arb, send)); };
  const inferBodies = inferenceBody(large);
  const natsBodies = (envelopes: number): fc.Arbitrary<FuzzBody> => fc.oneof({ weight: 4 - envelopes, arbitrary: inferenceBody(1024 * 1024) }, { weight: envelopes, arbitrary: envelopeBody() });

  it("the log capture spots a body printed in any of the forms it checks", () => {
    // The services print little at debug level, so prove the detector is not vacuous.
    const probe = new LogCapture(FUZZ_MARKER, [...arrowFiles.values()]);
    const slice = Buffer.from(arrowFiles.get("image_224x224.arrow")!.subarray(5000, 5100));
    probe.logger.info({ body: `x${FUZZ_MARKER}y` }, "marker as text");
    probe.logger.info({ body: Buffer.from(`..${FUZZ_MARKER}..`).toString("base64") }, "marker in base64");
    probe.logger.info({ body: slice.toString("latin1") }, "slice as text");
    probe.logger.info({ body: slice.toString("hex") }, "slice in hex");
    probe.logger.info({ body: slice.toString("base64") }, "slice in base64");
    probe.logger.info({ body: slice }, "slice as a Buffer");
    probe.logger.info({ body: slice.subarray(0, 60).toString("hex") }, "too short a slice");
    assert.equal(probe.leaks.length, 6, JSON.stringify(probe.leaks.map((l) => l.what)));
  });

  it("POST /logs", main("POST /logs", httpInput(fc.constant("/logs"), logsBody(cursors)), http));
  it("NATS ferry.logs.query", main("NATS ferry.logs.query", natsInput("ferry.logs.query", logsBody(cursors)), nats));
  it("POST /infer", main("POST /infer", httpInput(fc.constant("/infer"), inferBodies), http));
  it("POST /pipelines/edge-houseprice", main("POST /pipelines/edge-houseprice", httpInput(fc.constant("/pipelines/edge-houseprice"), inferBodies), http));
  it("POST /pipelines/edge-cv-demo", main("POST /pipelines/edge-cv-demo", httpInput(fc.constant("/pipelines/edge-cv-demo"), inferBodies), http));
  it("POST /pipelines/{random names}", main("POST /pipelines/{random}", httpInput(pipelineSegment.map((s) => `/pipelines/${s}`), inferenceBody(64 * 1024)), http));
  it("NATS ferry.infer", main("NATS ferry.infer", natsInput("ferry.infer", natsBodies(1)), nats));
  it("NATS ferry.infer.edge-houseprice", main("NATS ferry.infer.edge-houseprice", natsInput("ferry.infer.edge-houseprice", natsBodies(2)), nats));

  it("afterwards: the site serves, memory is bounded, every earlier record is there, no body was logged", async (t) => {
    for (const [kind, example] of found) t.diagnostic(`FOUND ${kind}\n      ${example}`);
    const total = tally.inputs();
    t.diagnostic(`${total} inputs in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    for (const line of tally.lines(explore)) t.diagnostic(line);
    const mainInputs = Object.keys(INPUTS).reduce((n, k) => n + tally.inputs(k), 0);
    const expected = Object.values(INPUTS).reduce((n, k) => n + Math.max(BATCH, Math.round(k * SCALE)), 0);
    assert.ok(mainInputs >= expected, `${mainInputs} inputs sent to the main properties, expected ${expected}`);
    if (SCALE >= 1) assert.ok(mainInputs >= 10_000, `${mainInputs} inputs sent to the main properties`);
    const load = Object.keys(LOAD_ANSWERS).map((s) => `${s}×${tally.count(Number(s))}`).join(", ");
    t.diagnostic(`load answers (allowed 5xx): ${load}`);

    // Still serving, every service up and answering.
    const ok = await post(`${site.url}/infer`, houseRecords([houseRef.rows[0]!]), { "Content-Type": PANDAS });
    assert.equal(ok.status, 200);
    assert.ok(site.gateway && site.inferer && site.logger);
    const health = await fetch(`${site.url}/health`);
    assert.equal(health.status, 200);
    const pipelines = ((await (await fetch(`${site.url}/pipelines`)).json()) as { pipelines: { id: string; status: string }[] }).pipelines;
    for (const id of ["edge-houseprice", "edge-cv-demo", "edge-houseprice-bucketed"]) assert.equal(pipelines.find((p) => p.id === id)?.status, "Running", id);
    assert.ok(site.inferer!.status().pipelines.length >= 3);
    const h = natsHeaders();
    h.set("Content-Type", PANDAS);
    const viaNats = await site.client.request("ferry.infer", houseRecords([houseRef.rows[1]!]), { timeout: 10_000, headers: h });
    assert.equal(viaNats.headers?.get("Ferry-Status"), "200");
    const status = await site.client.request("ferry.status", "", { timeout: 10_000 });
    assert.ok((status.json<{ pipelines?: unknown[] }>().pipelines ?? []).length >= 3, "ferry.status answers");
    const stats = await site.logger!.stats();
    assert.ok(stats.messages > 0);

    // Memory. Everything (gateway, inferer with onnxruntime and its Arrow thread, logger, fetch and
    // NATS clients) runs in this process, so its RSS bounds them all. Up to 16 bodies of up to 5 MiB
    // are in flight with their decoded forms, and V8 and glibc keep freed memory for reuse rather than
    // returning it at once, so the bound is generous: it catches a leak that grows with the 10,000
    // inputs (a few KiB each would add tens of MB; a retained body per request, gigabytes), not churn.
    const rssAfter = process.memoryUsage().rss;
    const mb = (n: number): string => `${(n / 2 ** 20).toFixed(0)} MB`;
    t.diagnostic(`rss before ${mb(rssBefore)}, after ${mb(rssAfter)} (${rssAfter >= rssBefore ? "+" : ""}${mb(rssAfter - rssBefore)})`);
    assert.ok(rssAfter < 1.5 * 2 ** 30, `rss ${mb(rssAfter)} ≥ 1.5 GB`);
    assert.ok(rssAfter - rssBefore < 600 * 2 ** 20, `rss grew by ${mb(rssAfter - rssBefore)}`);

    // The records logged before the fuzzing: all N still there (the fuzzing added more). They are the
    // oldest, the first to go if anything were pruned, so the oldest N records must be exactly them.
    // (That page ends once it has N + 1 records; paging to the end would meet the slow-/logs bug above.)
    const res = await fetch(`${site.url}/logs`, { method: "POST", body: JSON.stringify({ start_time: 0, page_size: N }), headers: { "Content-Type": "application/json" } });
    assert.equal(res.status, 200);
    const oldest = (await res.json()) as LogRecord[];
    const kept = new Set(oldest.map(goodIndex).filter((i) => i !== undefined));
    t.diagnostic(`${stats.messages} log messages stored; the oldest ${oldest.length} records hold ${kept.size} of the ${N} from before the fuzzing`);
    assert.equal(kept.size, N);

    // pino never printed a body.
    const { lines, bytes } = capture.written;
    t.diagnostic(`pino (debug): ${lines} lines, ${bytes} bytes; by level ${JSON.stringify(Object.fromEntries(capture.levels))}`);
    assert.ok(lines > 0, "the capture saw the services' logs");
    assert.deepEqual(capture.leaks.slice(0, 5), [], "log lines that print a request body");
  });
});
