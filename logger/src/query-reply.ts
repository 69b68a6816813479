import { setTimeout as sleep } from "node:timers/promises";
import type { Msg } from "@nats-io/transport-node";
import { FerryError, Headers, LogPagingHeaders, MediaTypes, asFerryError, outputFormatOf, parseLogQuery, replyHeaders } from "@ferry/contracts";
import { isJetStreamFailure, isTransient, natsHeaders } from "@ferry/runtime";
import type { LogPage, LogReader } from "./log-query.js";
import type { LogStreamWatch } from "./log-stream.js";
import { logsToArrow } from "./logs-arrow.js";

/** How a query went: the status sent and, for an error, what went wrong (`store`: JetStream failed it). */
export interface QueryOutcome {
  status: number;
  error?: string;
  store?: boolean;
}

/** Answers one `/logs` query. */
export async function answerQuery(msg: Msg, reader: LogReader, store: LogStreamWatch): Promise<QueryOutcome> {
  try {
    const query = parseLogQuery(msg.data);
    const format = outputFormatOf(msg.headers?.get(Headers.accept));
    if (!format) throw new FerryError("not_acceptable", "/logs answers application/json; format=pandas-records or application/vnd.apache.arrow.file");
    store.requireOpen();
    const page = await pageRetrying(reader, query);
    const datas = page.records.map((r) => r.data);
    const [contentType, body] = format === "arrow-file" ? [MediaTypes.arrowFile, logsToArrow(datas)] : [MediaTypes.pandasRecords, joinRecords(datas)];
    const paging = { [LogPagingHeaders.cursor]: page.cursor, [LogPagingHeaders.status]: page.status };
    msg.respond(body, { headers: natsHeaders({ ...replyHeaders({ status: 200, contentType }), ...paging }) });
    return { status: 200 };
  } catch (err) {
    // JetStream failing the query (a failover, a stream deleted under the logger) is the store's
    // condition: 503, worth a retry. Only the logger's own faults are 500.
    const fromStore = !(err instanceof FerryError) && isJetStreamFailure(err);
    const e = fromStore ? new FerryError("logs_unavailable", `the log store did not answer the query: ${(err as Error).message}`, { cause: err }) : asFerryError(err);
    msg.respond(JSON.stringify(e.toBody()), { headers: natsHeaders(replyHeaders({ status: e.status, contentType: MediaTypes.json })) });
    return { status: e.status, error: `${e.status} ${e.code}: ${e.message}`, ...(fromStore ? { store: true } : {}) };
  }
}

/** How long a query retries a JetStream that does not answer, and the pause between tries, ms. */
const RETRY_FOR_MS = 2000;
const RETRY_PAUSE_MS = 200;

/**
 * A page, tried again while JetStream does not answer (no responders, a timeout): in a cluster that just
 * lost a server its API is silent for a moment while a new meta leader is elected, and a query only reads,
 * so trying again is safe. Past RETRY_FOR_MS the failure stands (503 `logs_unavailable`).
 */
export async function pageRetrying(reader: Pick<LogReader, "page">, query: Parameters<LogReader["page"]>[0]): Promise<LogPage> {
  const deadline = Date.now() + RETRY_FOR_MS;
  for (;;) {
    try {
      return await reader.page(query);
    } catch (err) {
      if (!isTransient(err) || Date.now() + RETRY_PAUSE_MS > deadline) throw err;
      await sleep(RETRY_PAUSE_MS);
    }
  }
}

/** `[r1,r2,…]` from stored JSON records, without parsing them. */
function joinRecords(datas: readonly Uint8Array[]): Uint8Array {
  let size = 2 + Math.max(0, datas.length - 1);
  for (const d of datas) size += d.length;
  const out = new Uint8Array(size);
  out[0] = 0x5b;
  let at = 1;
  datas.forEach((d, i) => {
    if (i > 0) out[at++] = 0x2c;
    out.set(d, at);
    at += d.length;
  });
  out[at] = 0x5d;
  return out;
}
