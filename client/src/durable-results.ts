import {
  AckPolicy, DeliverPolicy, type Consumer, type JetStreamClient, type JsMsg, type JetStreamManager,
} from "@nats-io/jetstream";
import { randomUUID } from "node:crypto";
import { nanos, type MsgHdrs } from "@nats-io/transport-node";
import { Headers, ResultStream, Subjects, readReply, type ErrorBody } from "@ferry/contracts";
import { isConsumerNotFound } from "@ferry/runtime";
import { FerryClientError } from "./errors.js";
import { recordsFromReply, type InferenceRecord } from "./records.js";

/** The stored result of a durable request (`ferry.result.<pipeline>.<id>` in FERRY_RESULTS). */
export interface DurableResult<V = unknown> {
  /** The request id it answers (`Ferry-Request-Id`). */
  id: string;
  pipeline: string;
  /** The HTTP status a synchronous request would have got. */
  status: number;
  /** Its sequence in FERRY_RESULTS. */
  seq: number;
  /** How many times the request was delivered to an inferer. */
  deliveries: number;
  /** One record per input row, when `status` < 400. */
  records?: InferenceRecord<V>[];
  /** What went wrong, when `status` ≥ 400 (or `bad_reply` when the stored body could not be read). */
  error?: ErrorBody | { error: string; code: "bad_reply" };
}

/** A stored result message: a direct get's or a consumer's. */
interface ResultMsg {
  subject: string;
  seq: number;
  data: Uint8Array;
  headers?: MsgHdrs;
}

/** Options of a results iteration. */
export interface ResultsOptions {
  /** A durable consumer of this name (created if missing) keeps the place across restarts. */
  durable?: string;
  /** Only these request ids (the others are passed over, and acknowledged on a durable consumer). */
  ids?: Iterable<string>;
}

/** Subject filter of every result of a pipeline for one device. */
export function resultsFilter(pipeline: string, device: string): string {
  return `${Subjects.resultPrefix}${pipeline}.${device}.*`;
}

/** Reads a stored result; a body that cannot be read becomes a `bad_reply` error rather than a throw. */
export function durableResult<V>(pipeline: string, m: ResultMsg): DurableResult<V> {
  const h = m.headers;
  const { status } = readReply(h, m.data);
  const id = h?.get(Headers.requestId) || m.subject.slice(m.subject.lastIndexOf(".") + 1);
  const result: DurableResult<V> = { id, pipeline, status, seq: m.seq, deliveries: Number(h?.get(Headers.deliveries) || 1) };
  try {
    result.records = recordsFromReply<V>(status, m.data);
  } catch (err) {
    const e = err as FerryClientError;
    result.error = { error: e.message, code: e.code } as DurableResult["error"];
  }
  return result;
}

/**
 * An ephemeral consumer of `filter` from the start of the stream, with a random name. Not nats.js' ordered
 * consumer: that one reads the stream's info first, which a device may not (it would show every device's
 * result subjects). Created through the 2.10+ subject that names the filter, the only form a device may use.
 */
async function readerOf(js: JetStreamClient, jsm: JetStreamManager, filter: string): Promise<Consumer> {
  const name = `r${randomUUID().replaceAll("-", "")}`;
  await jsm.consumers.add(ResultStream, {
    name, ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All, filter_subject: filter, inactive_threshold: nanos(READER_IDLE_MS), mem_storage: true,
  });
  return js.consumers.get(ResultStream, name);
}

/** A reader consumer left behind (its client gone) is removed by the server after this long, ms. */
const READER_IDLE_MS = 5 * 60_000;

/** Waits for the first message on `subject` (an ordered consumer, so one stored meanwhile is seen too). */
export async function waitForResult<V>(js: JetStreamClient, jsm: JetStreamManager, pipeline: string, subject: string, deadline: number): Promise<DurableResult<V>> {
  const consumer = await readerOf(js, jsm, subject);
  const messages = await consumer.consume({ max_messages: 1 });
  const timer = setTimeout(() => messages.stop(), Math.max(0, deadline - Date.now()));
  try {
    for await (const m of messages) return durableResult<V>(pipeline, m);
  } finally {
    clearTimeout(timer);
    messages.stop();
    void consumer.delete().catch(() => undefined);
  }
  throw new FerryClientError("timeout", `no result on ${subject} in time`);
}

/**
 * A pipeline's results in stream order, never ending on its own: from the start of the stream on an
 * ordered consumer, or where the durable consumer `o.durable` stopped.
 */
export function iterateResults<V>(js: JetStreamClient, jsm: JetStreamManager, pipeline: string, device: string, o: ResultsOptions): AsyncGenerator<DurableResult<V>> {
  const wanted = o.ids === undefined ? undefined : new Set(o.ids);
  const keep = (r: DurableResult<V>): boolean => !wanted || wanted.has(r.id);
  return o.durable === undefined ? orderedResults(js, jsm, pipeline, resultsFilter(pipeline, device), keep)
    : durableResults(js, jsm, pipeline, resultsFilter(pipeline, device), o.durable, keep);
}

async function* orderedResults<V>(
  js: JetStreamClient, jsm: JetStreamManager, pipeline: string, filter: string, keep: (r: DurableResult<V>) => boolean,
): AsyncGenerator<DurableResult<V>> {
  const consumer = await readerOf(js, jsm, filter);
  const messages = await consumer.consume();
  try {
    for await (const m of messages) {
      const result = durableResult<V>(pipeline, m);
      if (keep(result)) yield result;
    }
  } finally {
    messages.stop();
    void consumer.delete().catch(() => undefined);
  }
}

/**
 * One message at a time (a prefetched one would stay out of reach of the next run until its ack
 * wait ran out). Each is acknowledged when the caller asks for the next; the one the caller broke
 * out on is handed back at once (nak), so the next run starts with it.
 */
async function* durableResults<V>(
  js: JetStreamClient, jsm: JetStreamManager, pipeline: string, filter: string, name: string, keep: (r: DurableResult<V>) => boolean,
): AsyncGenerator<DurableResult<V>> {
  const consumer = await durableConsumer(js, jsm, filter, name);
  let current: JsMsg | undefined;
  try {
    for (;;) {
      current = (await consumer.next({ expires: 30_000 })) ?? undefined;
      if (!current) continue;
      const result = durableResult<V>(pipeline, current);
      if (keep(result)) yield result;
      current.ack();
      current = undefined;
    }
  } finally {
    current?.nak();
  }
}

async function durableConsumer(js: JetStreamClient, jsm: JetStreamManager, filter: string, name: string): Promise<Consumer> {
  try {
    const info = await jsm.consumers.info(ResultStream, name);
    if (info.config.filter_subject !== filter) {
      throw new FerryClientError("bad_request", `consumer "${name}" follows ${info.config.filter_subject ?? "every result"}, not ${filter}`);
    }
  } catch (err) {
    if (!isConsumerNotFound(err)) throw err;
    await jsm.consumers.add(ResultStream, {
      durable_name: name, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, filter_subject: filter,
    });
  }
  return js.consumers.get(ResultStream, name);
}
