/**
 * The one place the log batch is written and read. Inferers store the records of one pipeline that
 * arrive close together as one stream message: newline-separated JSON records and a `Ferry-Records`
 * header with their count. Every record starts with its `time` member (`{"time":<ms>,...`), so a
 * reader finds a record's time without parsing the whole record; `logRecordStart` is what writers use.
 */

/** Header naming how many records a log message holds. */
export const LogRecordsHeader = "Ferry-Records";

const TIME_START = '{"time":';
const TIME_BYTES = new TextEncoder().encode(TIME_START);
const NEWLINE = 0x0a;

/** How a log record's JSON text begins: its time first, so that `decodeLogBatch` can read it. */
export function logRecordStart(timeMs: number): string {
  return `${TIME_START}${Math.trunc(timeMs)}`;
}

/** One message of records: its body and its headers. */
export interface LogBatch {
  data: string;
  headers: Record<string, string>;
}

/** Joins records (each a JSON text made with `logRecordStart`) into one message. */
export function encodeLogBatch(records: readonly string[]): LogBatch {
  return { data: records.join("\n"), headers: { [LogRecordsHeader]: String(records.length) } };
}

/** One record of a batch, without copying its bytes. */
export interface BatchRecord {
  /** Position within the message. */
  index: number;
  /** The record's `time` (ms); 0 when the record does not start with it (not written by Ferry). */
  time: number;
  /** The record's JSON bytes. */
  data: Uint8Array;
}

/** The records of one message (empty lines skipped). */
export function decodeLogBatch(data: Uint8Array): BatchRecord[] {
  const out: BatchRecord[] = [];
  let start = 0;
  for (let i = 0; i <= data.length; i++) {
    if (i === data.length || data[i] === NEWLINE) {
      if (i > start) {
        const d = data.subarray(start, i);
        out.push({ index: out.length, time: recordTime(d), data: d });
      }
      start = i + 1;
    }
  }
  return out;
}

/** How many records a message holds, by its header (1 for a message without one). */
export function logBatchCount(header: string | undefined | null): number {
  return Number(header || "1");
}

/** The digits after `{"time":`, read from the bytes. */
function recordTime(d: Uint8Array): number {
  if (d.length <= TIME_BYTES.length) return 0;
  for (let i = 0; i < TIME_BYTES.length; i++) if (d[i] !== TIME_BYTES[i]) return 0;
  let t = 0;
  for (let i = TIME_BYTES.length; i < d.length && i < TIME_BYTES.length + 16; i++) {
    const c = d[i]! - 0x30;
    if (c < 0 || c > 9) break;
    t = t * 10 + c;
  }
  return t;
}
