// Helpers of bench/logs.ts: a one-process Ferry started with extra flags (servers.ts has no such
// variant), and two independent counts of the log records it stored (HTTP paging and NATS headers).
import { natsConnectOptions } from "@ferry/runtime";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { LogPagingHeaders, LogRecordsHeader, LogStream, logBatchCount } from "@ferry/contracts";
import type { Topology } from "./servers.js";
import { msSince } from "./stats.js";
import { startFerryChild } from "./ferry-ready.js";

const readyTimeoutMs = 30_000;

/** A Ferry under test, with the URL of the nats-server it spawned. */
export interface Ferry extends Topology {
  natsUrl: string;
}



/** `ferry start` serving `manifest` (see startFerryChild), with `extraArgs` appended. */
export async function startFerry(name: string, manifest: string, pipeline: string, extraArgs: readonly string[]): Promise<Ferry> {
  const f = await startFerryChild("ferry (gateway+inferer+logger)", manifest, pipeline, extraArgs);
  return { name, url: f.url, natsUrl: f.natsUrl, procs: f.procs, stop: f.stop };
}

/** A NATS connection of the bench's own (for filling and counting), closed by the caller. */
export interface Jet {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
}

export async function connectJet(natsUrl: string): Promise<Jet> {
  const nc = await connect({ ...natsConnectOptions(natsUrl), name: "ferry-bench-logs", noAsyncTraces: true });
  return { nc, js: jetstream(nc), jsm: await jetstreamManager(nc) };
}

/** Runs `body` with a connection of the bench's own to `natsUrl`, closed after it. */
export async function withJet<T>(natsUrl: string, body: (jet: Jet) => Promise<T>): Promise<T> {
  const jet = await connectJet(natsUrl);
  try {
    return await body(jet);
  } finally {
    await jet.nc.close();
  }
}

/** Waits until FERRY_LOGS exists (`ferry start` provisions it before starting services). */
export async function waitForStream(jsm: JetStreamManager): Promise<void> {
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    try {
      await jsm.streams.info(LogStream);
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`stream ${LogStream} did not appear within ${readyTimeoutMs} ms: ${String(err)}`);
      await sleep(100);
    }
  }
}

/** Waits until the stream's last sequence has not moved for `quietMs` (the inferer's publisher drained). */
export async function waitForQuietStream(jsm: JetStreamManager, quietMs = 1000, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  let since = Date.now();
  while (Date.now() < deadline) {
    const seq = (await jsm.streams.info(LogStream)).state.last_seq;
    if (seq !== last) {
      last = seq;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) {
      return;
    }
    await sleep(100);
  }
}

/** Records and messages in FERRY_LOGS, counted from the log batches' record-count headers (headers-only ordered consumer). */
export async function countViaNats(jet: Jet): Promise<{ records: number; messages: number; bytes: number }> {
  const { state } = await jet.jsm.streams.info(LogStream);
  if (state.messages === 0) return { records: 0, messages: 0, bytes: state.bytes };
  const consumer = await jet.js.consumers.get(LogStream, { headers_only: true });
  let records = 0;
  let messages = 0;
  const iter = await consumer.consume({ max_messages: 1000 });
  for await (const m of iter) {
    records += logBatchCount(m.headers?.get(LogRecordsHeader));
    messages++;
    if (m.seq >= state.last_seq) break;
  }
  iter.stop();
  return { records, messages, bytes: state.bytes };
}

/** Counts every record through POST /logs: `start_time` 0, `page_size` 10000, following the cursor. */
export async function countViaHttp(url: string): Promise<{ records: number; pages: number; ms: number }> {
  const t0 = process.hrtime.bigint();
  let params: Record<string, unknown> = { start_time: 0, page_size: 10_000 };
  let records = 0;
  let pages = 0;
  for (;;) {
    const res = await fetch(`${url}/logs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(params) });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`POST /logs answered ${res.status}: ${text.slice(0, 300)}`);
    records += (JSON.parse(text) as unknown[]).length;
    pages++;
    const cursor = res.headers.get(LogPagingHeaders.cursor);
    if (res.headers.get(LogPagingHeaders.status) !== "Continue" || !cursor) break;
    if (pages > 100_000) throw new Error("POST /logs paging does not end");
    params = { cursor, page_size: 10_000 };
  }
  return { records, pages, ms: msSince(t0) };
}
