// /logs latency for bench/logs.ts: each query over HTTP (what a client sees) and straight to the
// logger over NATS (no gateway, no HTTP), plus the JetStream calls a query makes, timed one by one from
// the bench's own connection, to show where a query's time goes.
import { AckPolicy, DeliverPolicy } from "@nats-io/jetstream";
import { headers, nanos } from "@nats-io/transport-node";
import { LogPagingHeaders, LogStream, Subjects } from "@ferry/contracts";
import { watchConnection } from "@ferry/runtime";
import type { Jet } from "./logs-ferry.js";
import { msSince } from "./stats.js";

/** Nearest-rank percentile. */
export function pct(values: readonly number[], p: number): number {
  const sorted = Float64Array.from(values).sort();
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
}

export interface Spread {
  n: number;
  medianMs: number;
  p95Ms: number;
  minMs: number;
  maxMs: number;
}

export function spread(samples: readonly number[]): Spread {
  return { n: samples.length, medianMs: pct(samples, 50), p95Ms: pct(samples, 95), minMs: pct(samples, 0), maxMs: pct(samples, 100) };
}

/** One answered /logs query. */
export interface Answer {
  ms: number;
  status: number;
  bytes: number;
  text: string;
  cursor: string | null;
  iteration: string | null;
}

interface LogRow {
  time: number;
}

/** POST /logs over HTTP; `ms` covers the whole reply body. */
export async function postLogs(url: string, params: Record<string, unknown>): Promise<Answer> {
  const t0 = process.hrtime.bigint();
  const res = await fetch(`${url}/logs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(params) });
  const text = await res.text();
  const ms = msSince(t0);
  return { ms, status: res.status, bytes: Buffer.byteLength(text), text, cursor: res.headers.get(LogPagingHeaders.cursor), iteration: res.headers.get(LogPagingHeaders.status) };
}

/** The same query as a NATS request to the logger (`ferry.logs.query`). */
export async function requestLogs(jet: Jet, params: Record<string, unknown>): Promise<Answer> {
  const h = headers();
  h.set("Content-Type", "application/json");
  const t0 = process.hrtime.bigint();
  const msg = await jet.nc.request(Subjects.logsQuery, JSON.stringify(params), { timeout: 120_000, headers: h });
  const text = msg.string();
  const ms = msSince(t0);
  return { ms, status: Number(msg.headers?.get("Ferry-Status") || 0), bytes: msg.data.byteLength, text, cursor: msg.headers?.get(LogPagingHeaders.cursor) ?? null, iteration: msg.headers?.get(LogPagingHeaders.status) ?? null };
}

/** What a page held, checked against what the query asked. */
export interface PageCheck {
  records: number;
  bytes: number;
  firstTime: number;
  lastTime: number;
  iteration: string | null;
  /** "ok", or what is wrong with the page. */
  verdict: string;
}

/** Parses a page (outside the timed part) and checks it with `expect`, which returns problems. */
export function checkPage(a: Answer, expect: (rows: LogRow[], a: Answer) => string[]): PageCheck {
  if (a.status !== 200) return { records: 0, bytes: a.bytes, firstTime: Number.NaN, lastTime: Number.NaN, iteration: a.iteration, verdict: `status ${a.status}: ${a.text.slice(0, 200)}` };
  const rows = JSON.parse(a.text) as LogRow[];
  const problems = expect(rows, a);
  return {
    records: rows.length, bytes: a.bytes, firstTime: rows[0]?.time ?? Number.NaN, lastTime: rows[rows.length - 1]?.time ?? Number.NaN,
    iteration: a.iteration, verdict: problems.length === 0 ? "ok" : problems.join("; "),
  };
}

export function isSorted(rows: readonly LogRow[], order: "asc" | "desc"): boolean {
  for (let i = 1; i < rows.length; i++) {
    const d = rows[i]!.time - rows[i - 1]!.time;
    if (order === "asc" ? d < 0 : d > 0) return false;
  }
  return true;
}

/** Median ms of each JetStream call a query makes, measured from the bench's connection. */
export interface Primitives {
  streamInfo: Spread;
  /** `{}` / desc path: an ephemeral consumer at the last message, one message (one batch of records) fetched. */
  tail: { add: Spread; get: Spread; fetch: Spread; del: Spread; total: Spread; fetchedMessages: number; fetchedBytes: number };
  /** An ephemeral consumer at a start time and one fetch of min(pending, 1000) messages (a read that assumes 1 record a message). */
  range: { add: Spread; get: Spread; fetch: Spread; del: Spread; total: Spread; fetchedMessages: number; fetchedBytes: number; numPending: number; disconnects: number };
}

interface Steps {
  add: number[];
  get: number[];
  fetch: number[];
  del: number[];
  total: number[];
  fetchedMessages: number;
  fetchedBytes: number;
  numPending: number;
}

/**
 * One read as log-query.ts's #read does it: consumers.add, consumers.get, fetch, consumers.delete.
 * `maxMessages`: 1 for the tail of the stream (one batch of records), and min(pending, 1000) for the
 * large fetch a read makes when it estimates one record a message (as after a message whose records
 * were all filtered out).
 */
async function oneRead(jet: Jet, from: { seq: number } | { time: number }, maxMessages: (pending: number) => number, s: Steps): Promise<void> {
  const t0 = process.hrtime.bigint();
  let t = t0;
  const lap = (): number => {
    const now = process.hrtime.bigint();
    const ms = Number(now - t) / 1e6;
    t = now;
    return ms;
  };
  const info = await jet.jsm.consumers.add(LogStream, {
    filter_subject: `${Subjects.logPrefix}>`, ack_policy: AckPolicy.None, mem_storage: true, inactive_threshold: nanos(30_000),
    ...("seq" in from
      ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from.seq }
      : { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(from.time).toISOString() }),
  });
  s.add.push(lap());
  try {
    const consumer = await jet.js.consumers.get(LogStream, info.name);
    s.get.push(lap());
    const batch = await consumer.fetch({ max_messages: maxMessages(info.num_pending), expires: 5000 });
    let messages = 0;
    let bytes = 0;
    for await (const m of batch) {
      messages++;
      bytes += m.data.byteLength;
    }
    s.fetch.push(lap());
    s.fetchedMessages = messages;
    s.fetchedBytes = bytes;
    s.numPending = info.num_pending;
  } finally {
    await jet.jsm.consumers.delete(LogStream, info.name).catch(() => undefined);
    s.del.push(lap());
    s.total.push(msSince(t0));
  }
}

const newSteps = (): Steps => ({ add: [], get: [], fetch: [], del: [], total: [], fetchedMessages: 0, fetchedBytes: 0, numPending: 0 });

export async function measurePrimitives(jet: Jet, midTime: number, repeats: number, rangeRepeats: number): Promise<Primitives> {
  const info: number[] = [];
  const tail = newSteps();
  const range = newSteps();
  for (let i = 0; i < repeats; i++) {
    const t0 = process.hrtime.bigint();
    const { state } = await jet.jsm.streams.info(LogStream);
    info.push(msSince(t0));
    await oneRead(jet, { seq: state.last_seq }, () => 1, tail);
  }
  // The server cuts a client whose pending bytes pass its max_pending (a slow consumer): count the cuts
  // (each is followed by a reconnect, which the flush waits for).
  const connection = watchConnection(jet.nc);
  for (let i = 0; i < rangeRepeats; i++) await oneRead(jet, { time: midTime }, (pending) => Math.max(1, Math.min(pending, 1000)), range);
  await jet.nc.flush().catch(() => undefined);
  const disconnects = connection.reconnects;
  const steps = (s: Steps): { add: Spread; get: Spread; fetch: Spread; del: Spread; total: Spread } => ({
    add: spread(s.add), get: spread(s.get), fetch: spread(s.fetch), del: spread(s.del), total: spread(s.total),
  });
  return {
    streamInfo: spread(info),
    tail: { ...steps(tail), fetchedMessages: tail.fetchedMessages, fetchedBytes: tail.fetchedBytes },
    range: { ...steps(range), fetchedMessages: range.fetchedMessages, fetchedBytes: range.fetchedBytes, numPending: range.numPending, disconnects },
  };
}
