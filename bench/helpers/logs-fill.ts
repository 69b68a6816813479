// Fills FERRY_LOGS the way the inferer's LogPublisher would: house-price records (the inferer's exact JSON
// shape) in log batches (encodeLogBatch: newline-separated, with their record count) and a message id, acked publishes,
// many in flight. Record times are the wall-clock time the batch is built: the logger seeks time ranges
// by the stream's own message timestamps (records are assumed to arrive within a minute of their
// `time`), so times spread over a day but stored within a minute would make its time seeks meaningless.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { LogStream, encodeLogBatch, logRecordStart, type LogBatch } from "@ferry/contracts";
import { natsHeaders } from "@ferry/runtime";
import type { Jet } from "./logs-ferry.js";
import { msSince } from "./stats.js";

export interface FillOptions {
  records: number;
  perMessage: number;
  /** Publishes awaiting their ack at once. */
  inFlight: number;
  subject: string;
  modelName: string;
  modelFile: string;
  pipelineVersion: string;
  partition: string;
  /** Message indexes before which the fill waits for every ack (see below). */
  barriers?: number[];
}

export interface FillResult {
  records: number;
  messages: number;
  seconds: number;
  recordsPerS: number;
  messagesPerS: number;
  /** Average record, bytes of JSON. */
  recordBytes: number;
  streamBytes: number;
  streamMessages: number;
  firstSeq: number;
  lastSeq: number;
  /** `time` of the records of each message, by message index (ms). */
  messageTimes: number[];
}

/** xorshift32: reproducible, cheap variety in the generated rows. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x1_0000_0000;
  };
}

/** A house-price input row like the demo's (18 values), varied. */
function houseRow(r: () => number): number[] {
  const sqft = 800 + Math.round(r() * 4000);
  return [
    1 + Math.floor(r() * 6), 1 + Math.floor(r() * 12) / 4, sqft, 2000 + Math.round(r() * 20_000), 1 + Math.floor(r() * 3),
    r() < 0.05 ? 1 : 0, Math.floor(r() * 5), 1 + Math.floor(r() * 5), 4 + Math.floor(r() * 9), sqft, r() < 0.3 ? Math.round(r() * 1500) : 0,
    Math.round((47.15 + r() * 0.63) * 10_000) / 10_000, Math.round((-122.52 + r() * 0.75) * 1000) / 1000,
    800 + Math.round(r() * 4000), 2000 + Math.round(r() * 20_000), Math.floor(r() * 120), r() < 0.1 ? 1 : 0, 0,
  ];
}

export async function fileSha256(path: string): Promise<string> {
  return createHash("sha256").update(await readFile(path)).digest("hex");
}

/** Publishes `o.records` records in messages of `o.perMessage`, `o.inFlight` acked publishes at a time. */
export async function fillLogs(jet: Jet, o: FillOptions): Promise<FillResult> {
  const sha = await fileSha256(o.modelFile);
  const lastModel = JSON.stringify(JSON.stringify({ model_name: o.modelName, model_sha: sha }));
  const tail = `"pipeline_version":${JSON.stringify(o.pipelineVersion)}`;
  const partition = JSON.stringify(o.partition);
  const r = rng(20_240_601);
  const messages = Math.ceil(o.records / o.perMessage);
  const messageTimes = new Array<number>(messages);
  const idPrefix = `bench-${Date.now().toString(36)}-`;
  let recordBytes = 0;
  let next = 0;
  const build = (i: number): LogBatch => {
    const time = Date.now();
    messageTimes[i] = time;
    const count = Math.min(o.perMessage, o.records - i * o.perMessage);
    const lines = new Array<string>(count);
    for (let j = 0; j < count; j++) {
      const row = houseRow(r);
      const price = Math.fround(150_000 + row[2]! * 180 + r() * 200_000);
      const decodeNs = 20_000 + Math.floor(r() * 80_000);
      const sessionNs = 40_000 + Math.floor(r() * 250_000);
      lines[j] = `${logRecordStart(time)},"in":{"tensor":[${row.join(",")}]},"out":{"variable":[${price}]},"anomaly":{"count":0},"metadata":{"last_model":${lastModel},${tail},"elapsed":[${decodeNs},${sessionNs}],"dropped":[],"partition":${partition}}}`;
    }
    const batch = encodeLogBatch(lines);
    recordBytes += batch.data.length - (count - 1);
    return batch;
  };
  const t0 = process.hrtime.bigint();
  // Each worker publishes one message at a time; messages are built (and so timed) and written in index
  // order, so stream order and record times agree.
  const worker = (end: number) => async (): Promise<void> => {
    while (next < end) {
      const i = next++;
      const { data, headers } = build(i);
      await jet.js.publish(o.subject, data, { headers: natsHeaders(headers), msgID: idPrefix + i.toString(36), timeout: 60_000 });
    }
  };
  // At each barrier every earlier message is acknowledged (so stored) before the next is timed: a
  // start_time equal to the barrier message's time then finds no older record stored after it.
  const ends = [...(o.barriers ?? []).filter((b) => b > 0 && b < messages).sort((a, b) => a - b), messages];
  for (const end of ends) {
    await Promise.all(Array.from({ length: Math.min(o.inFlight, end - next) }, worker(end)));
    if (end < messages) await sleep(2);
  }
  const seconds = msSince(t0) / 1000;
  const { state } = await jet.jsm.streams.info(LogStream);
  return {
    records: o.records, messages, seconds, recordsPerS: o.records / seconds, messagesPerS: messages / seconds,
    recordBytes: recordBytes / o.records, streamBytes: state.bytes, streamMessages: state.messages,
    firstSeq: state.first_seq, lastSeq: state.last_seq, messageTimes,
  };
}
