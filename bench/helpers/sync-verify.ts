// Helpers of bench/sync.ts: checks that FERRY_LOGS_ALL holds each of the edge's FERRY_LOGS messages once,
// in order, with every record, by the `Nats-Stream-Source` header JetStream adds to a sourced message
// (`<stream id> <origin sequence> …`) and the `Ferry-Records` header; and that the last one matches.
import { HubLogStream, LogRecordsHeader, LogStream, logBatchCount } from "@ferry/contracts";
import type { Jet } from "./logs-ferry.js";

const sourceHeader = "Nats-Stream-Source";

/** What the hub holds against what the edge wrote. */
export interface SyncCheck {
  edgeMessages: number;
  hubMessages: number;
  edgeRecords: number;
  /** Sum of the Ferry-Records headers at the hub. */
  hubRecords: number;
  /** Edge sequences that arrived more than once, none at all, or before an earlier one. */
  duplicates: number;
  missing: number;
  outOfOrder: number;
  /** The hub's last message has the edge's last message's data, Ferry-Records and origin sequence. */
  lastMatches: boolean;
  ok: boolean;
}

/** The origin sequences and record counts of every message in FERRY_LOGS_ALL (headers only). */
async function hubHeaders(hub: Jet): Promise<{ origins: number[]; records: number; lastSeq: number }> {
  const { state } = await hub.jsm.streams.info(HubLogStream);
  const origins: number[] = [];
  let records = 0;
  if (state.messages === 0) return { origins, records, lastSeq: 0 };
  const iter = await (await hub.js.consumers.get(HubLogStream, { headers_only: true })).consume({ max_messages: 1000 });
  for await (const m of iter) {
    origins.push(originSeq(m.headers?.get(sourceHeader)));
    records += logBatchCount(m.headers?.get(LogRecordsHeader));
    if (m.seq >= state.last_seq) break;
  }
  iter.stop();
  return { origins, records, lastSeq: state.last_seq };
}

/** The origin sequence a Nats-Stream-Source header names (NaN when it names none). */
function originSeq(header: string | undefined): number {
  return Number(header?.split(" ")[1] ?? Number.NaN);
}

/** Counts duplicates, gaps and reorderings of the origin sequences 1..last. */
function sequenceFaults(origins: readonly number[], last: number): Pick<SyncCheck, "duplicates" | "missing" | "outOfOrder"> {
  const seen = new Uint8Array(last + 1);
  let duplicates = 0;
  let outOfOrder = 0;
  let previous = 0;
  for (const seq of origins) {
    if (!(seq >= 1 && seq <= last)) continue;
    if (seen[seq]) duplicates++;
    else if (seq < previous) outOfOrder++;
    seen[seq] = 1;
    previous = seq;
  }
  return { duplicates, missing: last - seen.reduce((n, x) => n + x, 0), outOfOrder };
}

/** Whether the newest messages of both streams carry the same data, record count and (hub) origin. */
async function lastMatches(hub: Jet, hubLast: number, edge: Jet, edgeLast: number): Promise<boolean> {
  if (hubLast === 0 || edgeLast === 0) return false;
  const [h, e] = await Promise.all([hub.jsm.streams.getMessage(HubLogStream, { seq: hubLast }), edge.jsm.streams.getMessage(LogStream, { seq: edgeLast })]);
  if (!h || !e) return false;
  return Buffer.from(h.data).equals(Buffer.from(e.data))
    && h.header.get(LogRecordsHeader) === e.header.get(LogRecordsHeader)
    && originSeq(h.header.get(sourceHeader)) === edgeLast;
}

/** Compares FERRY_LOGS_ALL at the hub with FERRY_LOGS at the edge, which wrote `edgeRecords` records. */
export async function verifySync(hub: Jet, edge: Jet, edgeRecords: number): Promise<SyncCheck> {
  const { state } = await edge.jsm.streams.info(LogStream);
  const { origins, records, lastSeq } = await hubHeaders(hub);
  const faults = sequenceFaults(origins, state.last_seq);
  const check = {
    edgeMessages: state.messages, hubMessages: origins.length, edgeRecords, hubRecords: records, ...faults,
    lastMatches: await lastMatches(hub, lastSeq, edge, state.last_seq),
  };
  const ok = check.hubMessages === check.edgeMessages && check.hubRecords === edgeRecords && faults.duplicates + faults.missing + faults.outOfOrder === 0 && check.lastMatches;
  return { ...check, ok };
}
