import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { AckPolicy, jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, headers, nanos, type NatsConnection } from "@nats-io/transport-node";
import { Headers, RequestStream, ResultStream, Subjects, inferSubject, resultSubject, submitConsumer, submitSubject, type InferenceRecord } from "@ferry/contracts";
import { provision, siteAssets, storageSettings } from "@ferry/runtime";
import { start as startInferer, type Inferer, type InfererOptions } from "@ferry/inferer";
import { manifests } from "./helpers/paths.js";
import { PANDAS, houseRecords, quiet, startTestNats, until } from "./helpers/site.js";

const PIPELINE = "edge-houseprice";

/** A distinct house row per request number, so each result can be matched to its request. */
function row(n: number): number[] {
  return [3, 2, 1000 + n, 5000, 1, 0, 0, 3, 7, 1000 + n, 0, 47.5, -122.2, 1500, 5000, 10, 0, 0];
}

interface StoredResult { id: string; status: number; deliveries: number; body: unknown }

/** Every result stored for the pipeline, in stream order. */
async function storedResults(nc: NatsConnection, jsm: JetStreamManager): Promise<StoredResult[]> {
  const total = (await jsm.streams.info(ResultStream, { subjects_filter: `${Subjects.resultPrefix}${PIPELINE}.>` })).state.messages;
  const consumer = await jetstream(nc).consumers.get(ResultStream, { filter_subjects: `${Subjects.resultPrefix}${PIPELINE}.>` });
  const out: StoredResult[] = [];
  if (total === 0) return out;
  for await (const m of await consumer.fetch({ max_messages: total, expires: 5000 })) {
    out.push({ id: m.subject.split(".").pop()!, status: Number(m.headers?.get(Headers.status)), deliveries: Number(m.headers?.get(Headers.deliveries)), body: m.json() });
    if (out.length === total) break;
  }
  return out;
}

/** Submits row `n` as request `<prefix>-<n>` (each test its own prefix: JetStream remembers ids across purges). */
async function submit(nc: NatsConnection, prefix: string, n: number, o: { msgId?: boolean; body?: string; contentType?: string } = {}): Promise<{ duplicate: boolean }> {
  const h = headers();
  h.set(Headers.contentType, o.contentType ?? PANDAS);
  h.set(Headers.requestId, `${prefix}-${n}`);
  return jetstream(nc).publish(submitSubject(PIPELINE), o.body ?? houseRecords([row(n)]), { headers: h, ...(o.msgId === false ? {} : { msgID: `${prefix}-${n}` }) });
}

function price(body: unknown): number {
  const output = (body as InferenceRecord[])[0]!.outputs[0]!;
  return Object.values(output)[0]!.data[0] as number;
}

describe("durable inference: ferry.submit.<pipeline>[.<device>] → FERRY_REQUESTS → ferry.result.<pipeline>.<device>.<id>", () => {
  let nats: Awaited<ReturnType<typeof startTestNats>>;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  const inferers: Inferer[] = [];
  const startOne = async (o: Partial<InfererOptions> = {}): Promise<Inferer> => {
    const inferer = await startInferer({ natsUrl: nats.url, manifests: [manifests.houseprice], watch: false, logRecords: false, logger: quiet, ...o });
    inferers.push(inferer);
    return inferer;
  };
  const stopAll = async (): Promise<void> => {
    await Promise.all(inferers.splice(0).map((i) => i.stop()));
  };
  const purge = async (): Promise<void> => {
    await jsm.streams.purge(ResultStream);
    await jsm.streams.purge(RequestStream);
  };

  before(async () => {
    nats = await startTestNats();
    nc = await connect({ servers: nats.url });
    jsm = await jetstreamManager(nc);
    // As `ferry start` does, before any inferer runs.
    await provision(nc, siteAssets(storageSettings()));
  });
  after(async () => {
    await stopAll();
    await nc.close();
    await nats.stop();
  });

  it("answers 1,000 requests submitted while no inferer ran, each once, matched by id", async () => {
    for (let n = 0; n < 1000; n++) await submit(nc, "many", n);
    assert.equal((await jsm.streams.info(RequestStream)).state.messages, 1000);
    const inferer = await startOne();
    await until("1,000 results", async () => (await jsm.streams.info(ResultStream)).state.messages >= 1000, 60_000);
    const results = await storedResults(nc, jsm);
    assert.equal(results.length, 1000);
    assert.deepEqual(new Set(results.map((r) => r.id)), new Set(Array.from({ length: 1000 }, (_, n) => `many-${n}`)));
    assert.ok(results.every((r) => r.status === 200));
    await until("the work queue to empty", async () => (await jsm.streams.info(RequestStream)).state.messages === 0);
    assert.equal(inferer.stats().durable?.results, 1000);
    assert.equal(inferer.stats().durable?.duplicates, 0);
    // Each result is its own request's answer: the same as a synchronous request with that row.
    for (const n of [0, 1, 499, 998, 999]) {
      const h = headers();
      h.set(Headers.contentType, PANDAS);
      const sync = await nc.request(inferSubject(PIPELINE), houseRecords([row(n)]), { headers: h, timeout: 10_000 });
      assert.equal(price(results.find((r) => r.id === `many-${n}`)!.body), price(sync.json()));
    }
    assert.ok(inferer.stats().runs < 1000, `durable requests delivered together share runs (${inferer.stats().runs} runs)`);
    await stopAll();
    await purge();
  });

  it("a device that restarts halfway still collects every result through its durable consumer", async () => {
    await startOne();
    const filter = `${Subjects.resultPrefix}${PIPELINE}.>`;
    const collected = new Set<string>();
    const collect = async (device: NatsConnection, stopAt: number): Promise<void> => {
      const js = jetstream(device);
      const consumer = await js.consumers.get(ResultStream, "device-7");
      while (collected.size < stopAt) {
        for await (const m of await consumer.fetch({ max_messages: Math.min(50, stopAt - collected.size), expires: 1000 })) {
          collected.add(m.subject.split(".").pop()!);
          m.ack();
          if (collected.size >= stopAt) break;
        }
      }
    };
    await jsm.consumers.add(ResultStream, { durable_name: "device-7", filter_subject: filter, ack_policy: AckPolicy.Explicit, ack_wait: nanos(2000) });
    let device = await connect({ servers: nats.url });
    for (let n = 0; n < 300; n++) await submit(device, "restart", n);
    await collect(device, 120);
    await device.close();
    // The device restarts: it resubmits everything it is not sure of (de-duplicated) plus the rest.
    device = await connect({ servers: nats.url });
    let duplicates = 0;
    for (let n = 0; n < 600; n++) if ((await submit(device, "restart", n)).duplicate) duplicates++;
    assert.equal(duplicates, 300);
    await collect(device, 600);
    await device.close();
    assert.equal(collected.size, 600);
    assert.equal((await storedResults(nc, jsm)).length, 600);
    await stopAll();
    await purge();
  });

  it("processes a request id once, with or without Nats-Msg-Id", async () => {
    const inferer = await startOne();
    assert.equal((await submit(nc, "dup", 1)).duplicate, false);
    assert.equal((await submit(nc, "dup", 1)).duplicate, true, "JetStream drops a second Nats-Msg-Id");
    await until("the first result", async () => (await storedResults(nc, jsm)).length === 1);
    const before_ = inferer.stats().requests;
    // No Nats-Msg-Id: JetStream stores it, the inferer sees the id already answered and skips it.
    await submit(nc, "dup", 1, { msgId: false });
    await until("the repeat to be taken", async () => (await jsm.streams.info(RequestStream)).state.messages === 0);
    assert.equal(inferer.stats().durable?.duplicates, 1);
    assert.equal(inferer.stats().requests, before_);
    assert.equal((await storedResults(nc, jsm)).length, 1);
    await stopAll();
    await purge();
  });

  it("a failed inference or an undecodable request gets an error result at once, not a retry", async () => {
    const inferer = await startOne();
    await submit(nc, "fail", 1, { body: "[{\"tensor\": [1, 2]}]" });
    await submit(nc, "fail", 2, { body: "ARROW1 not really", contentType: "application/vnd.apache.arrow.file" });
    await submit(nc, "fail", 3, { body: "{not json" });
    await until("three results", async () => (await storedResults(nc, jsm)).length === 3);
    const byId = new Map((await storedResults(nc, jsm)).map((r) => [r.id, r]));
    assert.equal(byId.get("fail-1")!.status, 422);
    assert.equal((byId.get("fail-1")!.body as { code: string }).code, "bad_shape");
    assert.equal(byId.get("fail-2")!.status, 400);
    assert.equal((byId.get("fail-3")!.body as { code: string }).code, "bad_json");
    assert.ok([...byId.values()].every((r) => r.deliveries === 1));
    assert.equal(inferer.stats().durable?.retried, 0);
    await stopAll();
    await purge();
  });

  it("a poison request that keeps failing deliveries ends as an error result after maxDeliveries", async () => {
    const durable = { maxDeliveries: 2, ackWaitMs: 300 };
    await startOne({ durable });
    await stopAll(); // the durable consumer stays, with these settings
    await submit(nc, "poison", 9);
    // Two inferers that take the request and crash before answering: JetStream delivers it again after ackWait.
    const consumer = await jetstream(nc).consumers.get(RequestStream, submitConsumer(PIPELINE));
    for (let delivery = 1; delivery <= 2; delivery++) {
      const m = await consumer.next({ expires: 5000 });
      assert.equal(m?.info.deliveryCount, delivery);
    }
    const inferer = await startOne({ durable });
    await until("the error result", async () => (await storedResults(nc, jsm)).length === 1);
    const [result] = await storedResults(nc, jsm);
    assert.equal(result!.status, 500);
    assert.equal((result!.body as { code: string }).code, "delivery_limit");
    assert.equal(result!.deliveries, 3);
    assert.equal(inferer.stats().requests, 0, "the poison request was not run again");
    await until("the work queue to empty", async () => (await jsm.streams.info(RequestStream)).state.messages === 0);
    const direct = await jsm.direct.getMessage(ResultStream, { last_by_subj: resultSubject(PIPELINE, "poison-9") });
    assert.ok(direct);
    await stopAll();
    await purge();
  });

  it("a device's request on ferry.submit.<pipeline>.<device> is answered on its own result subject, also by a consumer made before devices had subjects", async () => {
    const name = submitConsumer(PIPELINE);
    await jsm.consumers.delete(RequestStream, name).catch(() => undefined);
    // The consumer as an older inferer made it: only the device-less subject.
    await jsm.consumers.add(RequestStream, { durable_name: name, ack_policy: AckPolicy.Explicit, filter_subject: submitSubject(PIPELINE) });
    const h = headers();
    h.set(Headers.contentType, PANDAS);
    h.set(Headers.requestId, "cam-9-1");
    await jetstream(nc).publish(submitSubject(PIPELINE, "cam-9"), houseRecords([row(1)]), { headers: h, msgID: "cam-9.cam-9-1" });
    await startOne();
    const config = (await jsm.consumers.info(RequestStream, name)).config;
    assert.deepEqual([...(config.filter_subjects ?? [])].sort(), [submitSubject(PIPELINE), submitSubject(PIPELINE, "*")].sort());
    await until("the device's result", async () => (await jsm.direct.getMessage(ResultStream, { last_by_subj: resultSubject(PIPELINE, "cam-9-1", "cam-9") })) !== null);
    const stored = await jsm.direct.getMessage(ResultStream, { last_by_subj: resultSubject(PIPELINE, "cam-9-1", "cam-9") });
    assert.equal(stored!.header.get(Headers.requestId), "cam-9-1");
    await stopAll();
    await purge();
  });
});
