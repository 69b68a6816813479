import { readFile } from "node:fs/promises";
import type { HttpRun } from "./load.js";
import type { Memory } from "./servers.js";
import { median, msSince } from "./stats.js";

/** The fields of a pandas-records reply record the bench reads. */
interface ReplyRecord {
  elapsed?: unknown;
  outputs?: Record<string, { data?: unknown[] }>[];
}

async function postOnce(url: string, body: string | Buffer, headers: Record<string, string>): Promise<{ ms: number; status: number; text: string }> {
  const t0 = process.hrtime.bigint();
  const res = await fetch(url, { method: "POST", headers, body });
  const text = await res.text();
  return { ms: msSince(t0), status: res.status, text };
}

function firstRecord(text: string): ReplyRecord {
  const parsed: unknown = JSON.parse(text);
  if (!Array.isArray(parsed) || typeof parsed[0] !== "object" || parsed[0] === null) throw new Error(`not a pandas-records reply: ${text.slice(0, 200)}`);
  return parsed[0] as ReplyRecord;
}

/** First value of the record's `k`-th output, whatever its type key ("Float", "Int64", ...). */
function outputValue(record: ReplyRecord, k: number): number | undefined {
  const out = record.outputs?.[k];
  const first = out ? Object.values(out)[0]?.data?.[0] : undefined;
  return first === undefined ? undefined : Number(first);
}

/** One request before loading a server: fails unless it answers 200, returns the first output value. */
export async function checkReply(url: string, body: string | Buffer, headers: Record<string, string>): Promise<number | undefined> {
  const r = await postOnce(url, body, headers);
  if (r.status !== 200) throw new Error(`POST ${url} answered ${r.status}: ${r.text.slice(0, 500)}`);
  return outputValue(firstRecord(r.text), 0);
}

/** Medians of sequential requests to an image pipeline: end to end, and the reply's own elapsed[0..1]. */
export interface ImageLatency {
  requests: number;
  e2eMedianMs: number;
  decodeMedianMs: number;
  sessionMedianMs: number;
  bodyBytes: number;
  classification: number | undefined;
}

/** An image topology's figures: sequential latency, a loaded run, and its processes' memory. */
export interface ImageFigure extends ImageLatency {
  topology: string;
  /** Autocannon at one connection. */
  single: HttpRun;
  /** Autocannon at `imageConnections`. */
  load: HttpRun;
  memory: Memory[];
}

export async function measureImage(url: string, arrowPath: string, headers: Record<string, string>, count: number, warmups: number): Promise<ImageLatency> {
  const body = await readFile(arrowPath);
  const e2e: number[] = [];
  const decode: number[] = [];
  const session: number[] = [];
  let last: ReplyRecord = {};
  for (let i = 0; i < warmups + count; i++) {
    const r = await postOnce(url, body, headers);
    if (r.status !== 200) throw new Error(`POST ${url} answered ${r.status}: ${r.text.slice(0, 500)}`);
    last = firstRecord(r.text);
    const elapsed = Array.isArray(last.elapsed) ? last.elapsed.map(Number) : [];
    if (i < warmups) continue;
    e2e.push(r.ms);
    decode.push((elapsed[0] ?? Number.NaN) / 1e6);
    session.push((elapsed[1] ?? Number.NaN) / 1e6);
  }
  return {
    requests: count, e2eMedianMs: median(e2e), decodeMedianMs: median(decode), sessionMedianMs: median(session),
    bodyBytes: body.byteLength, classification: outputValue(last, 0),
  };
}
