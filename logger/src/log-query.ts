import { AckPolicy, DeliverPolicy, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { FerryError, LogStream, Subjects, type LogQuery } from "@ferry/contracts";

/** One stored record. */
export interface StoredRecord {
  seq: number;
  /** The record's own `time` (ms). */
  time: number;
  data: Uint8Array;
}

/** A page of records with the state to fetch the next one. */
export interface LogPage {
  records: StoredRecord[];
  cursor: string;
  status: "Continue" | "End";
}

interface Cursor {
  /** asc: first seq to read; desc: seq to read below. */
  seq: number;
  order: "asc" | "desc";
  pipeline?: string;
  startTime?: number;
  endTime?: number;
}

/** Records reach the stream shortly after their `time` (later when buffered through an outage). */
const LATE_MS = 60_000;
const FETCH_CHUNK = 1000;
const timePrefix = /^\{"time":(\d+)/;
const decoder = new TextDecoder();

function recordTime(data: Uint8Array): number {
  const m = timePrefix.exec(decoder.decode(data.subarray(0, 32)));
  return m ? Number(m[1]) : 0;
}

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString("base64url");
}

function decodeCursor(text: string): Cursor {
  try {
    const c = JSON.parse(Buffer.from(text, "base64url").toString("utf8")) as Cursor;
    if (Number.isInteger(c.seq) && (c.order === "asc" || c.order === "desc")) return c;
  } catch {
    // fall through
  }
  throw new FerryError("bad_request", "cursor is not one this server handed out (x-iteration-cursor)");
}

/** Reads the log stream page by page, seeking by sequence or time (no scans from the start). */
export class LogReader {
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;

  constructor(js: JetStreamClient, jsm: JetStreamManager) {
    this.#js = js;
    this.#jsm = jsm;
  }

  /** Answers one `/logs` query. */
  async page(q: LogQuery): Promise<LogPage> {
    const c: Cursor = q.cursor ? decodeCursor(q.cursor) : { seq: 0, order: q.order, pipeline: q.pipeline, startTime: q.startTime, endTime: q.endTime };
    const { state } = await this.#jsm.streams.info(LogStream);
    const filter = c.pipeline ? `${Subjects.logPrefix}${c.pipeline}` : `${Subjects.logPrefix}>`;
    const inRange = (r: StoredRecord): boolean => (c.startTime === undefined || r.time >= c.startTime) && (c.endTime === undefined || r.time <= c.endTime);
    if (state.messages === 0) return { records: [], cursor: encodeCursor({ ...c, seq: c.order === "asc" ? 1 : 0 }), status: "End" };
    if (c.order === "asc" && (q.cursor || c.startTime !== undefined)) {
      const from = q.cursor ? { seq: Math.max(c.seq, state.first_seq) } : { time: c.startTime! };
      const read = await this.#read(filter, from, Number.POSITIVE_INFINITY, q.pageSize + 1, c.endTime);
      const records = read.filter(inRange);
      const more = read.length > q.pageSize && !read.slice(q.pageSize).some((r) => c.endTime !== undefined && r.time > c.endTime);
      const page = records.slice(0, q.pageSize);
      const next = page.length > 0 ? page[page.length - 1]!.seq + 1 : (from.seq ?? state.last_seq + 1);
      return { records: page, cursor: encodeCursor({ ...c, seq: next }), status: more ? "Continue" : "End" };
    }
    // The latest records (asc: the most recent page in time order; desc: newest first, then older pages).
    let end = q.cursor && c.order === "desc" ? c.seq : state.last_seq + 1;
    if (!q.cursor && c.endTime !== undefined) end = Math.min(end, await this.#firstSeqAfter(filter, c.endTime + LATE_MS, state.last_seq + 1));
    const tail = await this.#lastN(filter, end, q.pageSize, state.first_seq, c.startTime);
    const records = tail.items.filter(inRange);
    if (c.order === "asc") {
      const next = tail.items.length > 0 ? tail.items[tail.items.length - 1]!.seq + 1 : end;
      return { records, cursor: encodeCursor({ ...c, seq: next, order: "asc" }), status: "End" };
    }
    const oldest = tail.items[0]?.seq ?? end;
    const exhausted = tail.reachedStart || (c.startTime !== undefined && tail.items.some((r) => r.time < c.startTime!));
    return { records: records.reverse(), cursor: encodeCursor({ ...c, seq: oldest }), status: exhausted ? "End" : "Continue" };
  }

  /** The last `n` matching records below seq `end`, widening the window backwards while filtered out. */
  async #lastN(filter: string, end: number, n: number, first: number, startTime?: number): Promise<{ items: StoredRecord[]; reachedStart: boolean }> {
    let width = n;
    for (;;) {
      const from = Math.max(first, end - width);
      const items = await this.#read(filter, { seq: from }, end, Number.POSITIVE_INFINITY);
      const tooOld = startTime !== undefined && items.length > 0 && items[0]!.time < startTime - LATE_MS;
      if (items.length >= n || from <= first || tooOld) return { items: items.slice(-n), reachedStart: from <= first && items.length <= n };
      width *= 4;
    }
  }

  async #firstSeqAfter(filter: string, timeMs: number, fallback: number): Promise<number> {
    const [first] = await this.#read(filter, { time: timeMs }, Number.POSITIVE_INFINITY, 1);
    return first?.seq ?? fallback;
  }

  /**
   * Reads matching records forward from a sequence or a time, below seq `end`, at most `limit`, stopping
   * once records are past `endTime` by more than records can be late. An ephemeral consumer does the seek.
   */
  async #read(filter: string, from: { seq: number } | { time: number }, end: number, limit: number, endTime?: number): Promise<StoredRecord[]> {
    const info = await this.#jsm.consumers.add(LogStream, {
      filter_subject: filter,
      ack_policy: AckPolicy.None,
      mem_storage: true,
      inactive_threshold: nanos(30_000),
      ...("seq" in from
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: Math.max(1, from.seq) }
        : { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(from.time).toISOString() }),
    });
    const out: StoredRecord[] = [];
    try {
      const consumer = await this.#js.consumers.get(LogStream, info.name);
      let want = Math.min(limit, info.num_pending, "seq" in from ? end - from.seq : Number.POSITIVE_INFINITY);
      let done = false;
      while (want > 0 && !done) {
        const batch = await consumer.fetch({ max_messages: Math.min(want, FETCH_CHUNK), expires: 5000 });
        let got = 0;
        for await (const m of batch) {
          got++;
          if (m.seq >= end || (endTime !== undefined && Number(m.info.timestampNanos) / 1e6 > endTime + LATE_MS)) {
            done = true;
            continue;
          }
          out.push({ seq: m.seq, time: recordTime(m.data), data: m.data });
        }
        want -= got;
        if (got === 0) break;
      }
    } finally {
      await this.#jsm.consumers.delete(LogStream, info.name).catch(() => undefined);
    }
    return out;
  }
}
