import { setTimeout as sleep } from "node:timers/promises";
import { AckPolicy, DeliverPolicy, type ConsumerConfig, type ConsumerInfo, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { FerryError, LogStream, decodeLogBatch, isSubjectToken, logFilter, type LogQuery } from "@ferry/contracts";

/** One stored record: message `seq` holds records separated by newlines; this is the `index`-th. */
export interface StoredRecord {
  seq: number;
  index: number;
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

/** A position between records: message `seq`, before its `index`-th record. */
interface Position {
  seq: number;
  index: number;
}

interface Cursor extends Position {
  order: "asc" | "desc";
  pipeline?: string;
  partition?: string;
  startTime?: number;
  endTime?: number;
}

/** How long each try at creating a query's consumer may take, and for how long to try again, ms (see #addConsumer). */
const CONSUMER_TRY_MS = 600;
const CONSUMER_TRIES_MS = 8000;
/** Records reach the stream shortly after their `time` (later when buffered through an outage). */
const LATE_MS = 60_000;
/** Most bytes asked for in one fetch (well under the server's max_pending of 64 MiB or more). */
const FETCH_BYTES = 16 * 1024 * 1024;

/** The records of stream message `seq` (a log batch). */
function storedRecords(seq: number, data: Uint8Array): StoredRecord[] {
  return decodeLogBatch(data).map((r) => ({ seq, ...r }));
}

const before = (r: StoredRecord, p: Position): boolean => r.seq < p.seq || (r.seq === p.seq && r.index < p.index);
const after = (r: StoredRecord): Position => ({ seq: r.seq, index: r.index + 1 });

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString("base64url");
}

const position = (n: unknown): boolean => Number.isSafeInteger(n) && (n as number) >= 0;
const optional = (v: unknown, ok: (v: unknown) => boolean): boolean => v === undefined || ok(v);

/** Whether a decoded cursor has the shape this server hands out (anything else came from elsewhere). */
function isCursor(c: Cursor): boolean {
  return position(c.seq) && position(c.index) && (c.order === "asc" || c.order === "desc")
    && optional(c.pipeline, (v) => typeof v === "string" && isSubjectToken(v))
    && optional(c.partition, (v) => typeof v === "string" && v.length > 0 && v.length <= 253)
    && optional(c.startTime, Number.isSafeInteger) && optional(c.endTime, Number.isSafeInteger);
}

function decodeCursor(text: string): Cursor {
  try {
    const c = JSON.parse(Buffer.from(text, "base64url").toString("utf8")) as Cursor;
    if (typeof c === "object" && c !== null && isCursor(c)) return c;
  } catch {
    // fall through
  }
  throw new FerryError("bad_request", "cursor is not one this server handed out (x-iteration-cursor)");
}

/** Reads the log stream page by page, seeking by sequence or time (no scans from the start). */
export class LogReader {
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #stream: string;

  /** Reads `stream`: the site's FERRY_LOGS, or the Ops hub's FERRY_LOGS_ALL. */
  constructor(js: JetStreamClient, jsm: JetStreamManager, stream: string = LogStream) {
    this.#js = js;
    this.#jsm = jsm;
    this.#stream = stream;
  }

  /** Answers one `/logs` query. */
  async page(q: LogQuery): Promise<LogPage> {
    const c: Cursor = q.cursor ? decodeCursor(q.cursor) : { seq: 0, index: 0, order: q.order, pipeline: q.pipeline, partition: q.partition, startTime: q.startTime, endTime: q.endTime };
    const { state } = await this.#jsm.streams.info(this.#stream);
    const filter = logFilter(c.pipeline, c.partition);
    const inRange = (r: StoredRecord): boolean => (c.startTime === undefined || r.time >= c.startTime) && (c.endTime === undefined || r.time <= c.endTime);
    const streamEnd: Position = { seq: state.last_seq + 1, index: 0 };
    if (state.messages === 0) return { records: [], cursor: encodeCursor({ ...c, ...(c.order === "asc" ? { seq: state.last_seq + 1, index: 0 } : { seq: 0, index: 0 }) }), status: "End" };
    if (c.order === "asc" && (q.cursor || c.startTime !== undefined)) {
      const from = q.cursor ? { seq: Math.max(c.seq, state.first_seq) } : { time: c.startTime! };
      // A message stored after start_time may still hold earlier records (a batch spans its flush window).
      const keep = (r: StoredRecord): boolean => (!q.cursor || r.seq > c.seq || r.index >= c.index) && (c.startTime === undefined || r.time >= c.startTime);
      const read = await this.#read(filter, from, streamEnd, q.pageSize + 1, c.endTime, keep);
      const pastEnd = (r: StoredRecord): boolean => c.endTime !== undefined && r.time > c.endTime;
      const page = read.slice(0, q.pageSize);
      const more = read.slice(q.pageSize).some((r) => !pastEnd(r));
      const next = page.length > 0 ? after(page[page.length - 1]!) : q.cursor ? { seq: c.seq, index: c.index } : streamEnd;
      return { records: page.filter(inRange), cursor: encodeCursor({ ...c, ...next }), status: more ? "Continue" : "End" };
    }
    // The latest records (asc: the most recent page in time order; desc: newest first, then older pages).
    let end: Position = q.cursor && c.order === "desc" ? { seq: c.seq, index: c.index } : streamEnd;
    if (!q.cursor && c.endTime !== undefined) {
      end = { seq: Math.min(end.seq, await this.#firstSeqAfter(filter, c.endTime + LATE_MS, state.last_seq + 1)), index: 0 };
    }
    const tail = await this.#lastN(filter, end, q.pageSize, state.first_seq, c.startTime);
    const records = tail.items.filter(inRange);
    if (c.order === "asc") {
      const next = tail.items.length > 0 ? after(tail.items[tail.items.length - 1]!) : end;
      return { records, cursor: encodeCursor({ ...c, ...next, order: "asc" }), status: "End" };
    }
    const oldest = tail.items[0];
    const exhausted = tail.reachedStart || (c.startTime !== undefined && tail.items.some((r) => r.time < c.startTime!));
    const next = oldest ? { seq: oldest.seq, index: oldest.index } : end;
    return { records: records.reverse(), cursor: encodeCursor({ ...c, ...next }), status: exhausted ? "End" : "Continue" };
  }

  /** The last `n` matching records before position `end`, widening the window backwards while too few. */
  async #lastN(filter: string, end: Position, n: number, first: number, startTime?: number): Promise<{ items: StoredRecord[]; reachedStart: boolean }> {
    let width = 1;
    for (;;) {
      const from = Math.max(first, end.seq - width);
      const items = await this.#read(filter, { seq: from }, end, Number.POSITIVE_INFINITY);
      const tooOld = startTime !== undefined && items.length > 0 && items[0]!.time < startTime - LATE_MS;
      if (items.length >= n || from <= first || tooOld) return { items: items.slice(-n), reachedStart: from <= first && items.length <= n };
      width *= 4;
    }
  }

  async #firstSeqAfter(filter: string, timeMs: number, fallback: number): Promise<number> {
    const [first] = await this.#read(filter, { time: timeMs }, { seq: Number.POSITIVE_INFINITY, index: 0 }, 1);
    return first?.seq ?? fallback;
  }

  /**
   * Reads matching records forward from a message sequence or a time, before position `end`, about
   * `limit` of them that `keep` accepts (whole messages), stopping once messages are past `endTime` by
   * more than records can be late. An ephemeral consumer does the seek.
   */
  async #read(filter: string, from: { seq: number } | { time: number }, end: Position, limit: number, endTime?: number, keep?: (r: StoredRecord) => boolean): Promise<StoredRecord[]> {
    // The consumer's num_pending is no bound: nats-server 2.9 overstates it for filtered consumers, and a
    // fetch for more than is there waits out its expiry. The last matching message is.
    const last = await this.#lastMatch(filter);
    const stop = Math.min(last, end.seq);
    if (last === 0 || ("seq" in from && from.seq > stop)) return [];
    const info = await this.#addConsumer({
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
      const consumer = this.#js.consumers.getConsumerFromInfo(info);
      let messages = Math.min(info.num_pending, "seq" in from ? stop - from.seq + 1 : Number.POSITIVE_INFINITY);
      let seen = 0;
      let records = 0;
      let bytes = 0;
      let done = false;
      while (messages > 0 && out.length < limit && !done) {
        // Messages hold batches of records: ask for about as many messages as the records still wanted.
        // The first message tells how many records a message holds here (1 to 1000).
        // …and at most FETCH_BYTES at once: the server cuts a client with more than max_pending waiting.
        const chunk = seen === 0 ? 1 : Math.max(1, Math.min(messages, 1000, Math.ceil((limit - out.length) / Math.max(1, records / seen)), Math.floor(FETCH_BYTES / Math.max(1, bytes / seen))));
        const batch = await consumer.fetch({ max_messages: chunk, expires: 5000 });
        let got = 0;
        for await (const m of batch) {
          got++;
          if (m.seq > end.seq || (endTime !== undefined && Number(m.info.timestampNanos) / 1e6 > endTime + LATE_MS)) {
            done = true;
            break;
          }
          seen++;
          const all = storedRecords(m.seq, m.data);
          records += all.length;
          bytes += m.data.length;
          for (const r of all) if (before(r, end) && (!keep || keep(r))) out.push(r);
          if (m.seq >= stop) {
            done = true;
            break;
          }
        }
        messages -= got;
        if (got === 0) break;
      }
    } finally {
      await this.#jsm.consumers.delete(this.#stream, info.name).catch(() => undefined);
    }
    return out;
  }

  /**
   * Creates the query's temporary consumer. In a cluster with a server just down, a create can go
   * unanswered (the meta leader died and another is being elected, or the create landed on the dead
   * peer: 2.9 and 2.15.1 alike, seen in test/cluster.test.ts); a new try lands once that is over. A try given up on may still create its
   * consumer later: `inactive_threshold` removes it.
   */
  async #addConsumer(config: Partial<ConsumerConfig>): Promise<ConsumerInfo> {
    const deadline = Date.now() + CONSUMER_TRIES_MS;
    for (;;) {
      const created = this.#jsm.consumers.add(this.#stream, config);
      if (Date.now() + CONSUMER_TRY_MS >= deadline) return created;
      // An error answer (no such stream…) ends the query; only silence is worth another try.
      const info = await Promise.race([created, sleep(CONSUMER_TRY_MS, undefined, { ref: false })]);
      if (info) return info;
      created.catch(() => undefined);
    }
  }

  /** Sequence of the last message on `filter` (0 when none). */
  async #lastMatch(filter: string): Promise<number> {
    return (await this.#jsm.streams.getMessage(this.#stream, { last_by_subj: filter }))?.seq ?? 0;
  }
}
