import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { connect, headers, type Msg, type NatsConnection } from "@nats-io/transport-node";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { Headers, MediaTypes, Subjects, batchHeaders, batchSize, encodeEnvelope, inferSubject, replyPart, requestParts, type EnvelopePart, type InfererStatus } from "@ferry/contracts";
import { start as startGateway, type Gateway } from "@ferry/gateway";
import { models, root } from "./helpers/paths.js";
import { ARROW_FILE, PANDAS, houseRecords, quiet, startTestNats, startTestSite, until } from "./helpers/site.js";

interface Answer { status: number; retryAfter: string | null; code?: string }

async function send(url: string, body: string | Uint8Array, type: string): Promise<Answer> {
  const res = await fetch(url, { method: "POST", body, headers: { "Content-Type": type } });
  const text = await res.text();
  const code = res.status >= 400 ? (JSON.parse(text) as { code: string }).code : undefined;
  return { status: res.status, retryAfter: res.headers.get("retry-after"), ...(code ? { code } : {}) };
}

describe("load shedding: a gateway whose inferers are behind answers 503 with Retry-After instead of queueing", () => {
  let nats: Awaited<ReturnType<typeof startTestNats>>;
  let nc: NatsConnection;
  let gateway: Gateway;
  before(async () => {
    nats = await startTestNats();
    nc = await connect({ servers: nats.url });
    gateway = await startGateway({ natsUrl: nats.url, port: 0, host: "127.0.0.1", logger: quiet, maxPending: 8, maxInFlight: 64, timeoutMs: 30_000 });
  });
  after(async () => {
    await gateway.stop();
    await nc.close();
    await nats.stop();
  });

  it("holds at most maxPending requests for a stalled inferer; the rest get 503 overloaded at once", async () => {
    // A stalled inferer on real NATS: it answers nothing until released.
    const held: Msg[] = [];
    const sub = nc.subscribe(inferSubject("stalled"), { callback: (err, msg) => { if (!err) held.push(msg); } });
    await nc.flush();
    const url = `${gateway.url}/pipelines/stalled`;
    const settled: Answer[] = [];
    const answers = Array.from({ length: 30 }, () => send(url, houseRecords([[1]]), PANDAS).then((a) => { settled.push(a); return a; }));
    await until("22 requests refused while 8 are held", async () => settled.length >= 22 && held.length >= 8);
    assert.equal(held.length, 8, "the stalled inferer got exactly maxPending requests");
    assert.equal(settled.length, 22);
    assert.ok(settled.every((a) => a.status === 503 && a.code === "overloaded" && a.retryAfter === "1"), JSON.stringify(settled[0]));
    const h = headers();
    h.set(Headers.status, "200");
    h.set(Headers.contentType, "application/json");
    // What the inferer answers: an empty records list to Wallaroo requests, an empty V2 response to V2 ones.
    const v2Reply = JSON.stringify({ model_name: "stalled", model_version: "v1", parameters: {}, outputs: [] });
    for (const m of held) m.respond(m.headers?.get(Headers.contentType).startsWith(MediaTypes.v2Infer) ? v2Reply : "[]", { headers: h });
    const all = await Promise.all(answers);
    assert.equal(all.filter((a) => a.status === 200).length, 8, "every held request is answered once the inferer catches up");
    sub.unsubscribe();
    // The slots are free again: the next 8 go through to an inferer that answers at once.
    nc.subscribe(inferSubject("stalled"), { callback: (err, msg) => { if (!err) msg.respond("[]", { headers: h }); } });
    await nc.flush();
    const next = await Promise.all(Array.from({ length: 8 }, () => send(url, houseRecords([[1]]), PANDAS)));
    assert.ok(next.every((a) => a.status === 200));
  });
});

describe("load shedding counts HTTP and gRPC (V2) inferences together", () => {
  let nats: Awaited<ReturnType<typeof startTestNats>>;
  let nc: NatsConnection;
  let gateway: Gateway;
  let client: grpc.Client;
  before(async () => {
    nats = await startTestNats();
    nc = await connect({ servers: nats.url });
    gateway = await startGateway({ natsUrl: nats.url, port: 0, host: "127.0.0.1", logger: quiet, maxPending: 8, maxInFlight: 64, timeoutMs: 30_000, grpcPort: 0 });
    const definition = protoLoader.loadSync(join(root, "gateway", "proto", "grpc_service.proto"), { keepCase: true, longs: Number, defaults: true });
    const Service = (grpc.loadPackageDefinition(definition) as unknown as { inference: { GRPCInferenceService: grpc.ServiceClientConstructor } }).inference.GRPCInferenceService;
    client = new Service(`127.0.0.1:${gateway.grpcPort}`, grpc.credentials.createInsecure());
  });
  after(async () => {
    client.close();
    await gateway.stop();
    await nc.close();
    await nats.stop();
  });

  it("4 HTTP requests held by a stalled inferer leave 4 slots: of 10 gRPC calls 4 are admitted, 6 refused UNAVAILABLE overloaded", async () => {
    // A stalled inferer on real NATS: it reports the pipeline (V2 needs its signature) and answers no inference.
    const report: InfererStatus = { inferer: "stalled-1", pipelines: [{ id: "stalled", status: "Running", version: "v1", models: [], signature: { inputs: [{ name: "tensor", type: "float32", dims: [-1, 1] }], outputs: [{ name: "y", type: "float32", dims: [-1, 1] }] } }] };
    nc.subscribe(Subjects.status, { callback: (_e, msg) => { msg.respond(JSON.stringify(report)); } });
    // What the inferer answers once it catches up: an empty records list to Wallaroo requests, an empty V2 response to V2 ones.
    // Requests queued behind the held ones may come as one batch envelope: each part gets its own answer.
    const v2Reply = Buffer.from(JSON.stringify({ model_name: "stalled", model_version: "v1", parameters: {}, outputs: [] }));
    const replyTo = (part: EnvelopePart): EnvelopePart => replyPart({
      status: 200, contentType: "application/json", body: (part.headers[Headers.contentType] ?? "").startsWith(MediaTypes.v2Infer) ? v2Reply : Buffer.from("[]"),
    });
    const answer = (m: Msg): void => {
      const replies = requestParts(m.headers, m.data).map(replyTo);
      const h = headers();
      const batch = batchSize(m.headers);
      if (batch === undefined) {
        for (const [k, v] of Object.entries(replies[0]!.headers)) h.set(k, v);
        m.respond(replies[0]!.body, { headers: h });
      } else {
        for (const [k, v] of Object.entries(batchHeaders(batch))) h.set(k, v);
        m.respond(encodeEnvelope(replies), { headers: h });
      }
    };
    const held: Msg[] = [];
    let caughtUp = false;
    nc.subscribe(inferSubject("stalled"), { callback: (err, msg) => { if (err) return; if (caughtUp) answer(msg); else held.push(msg); } });
    await nc.flush();
    const http = Array.from({ length: 4 }, () => send(`${gateway.url}/pipelines/stalled`, houseRecords([[1]]), PANDAS));
    await until("4 HTTP requests held", async () => held.length === 4);
    const infer = (): Promise<{ code: number; ferryCode?: unknown }> => new Promise((resolve) => {
      (client as unknown as { ModelInfer(r: object, cb: (e: grpc.ServiceError | null) => void): void }).ModelInfer(
        { model_name: "stalled", inputs: [{ name: "tensor", datatype: "FP32", shape: [1, 1], contents: { fp32_contents: [1] } }] },
        (e) => resolve(e ? { code: e.code, ferryCode: e.metadata.get("ferry-code")[0] } : { code: grpc.status.OK }));
    });
    const settled: { code: number; ferryCode?: unknown }[] = [];
    const calls = Array.from({ length: 10 }, () => infer().then((r) => { settled.push(r); return r; }));
    // 4 calls are admitted (held by the inferer, or queued behind the held requests once the gateway
    // has counted one inferer for the subject); the other 6 find the 8 slots taken.
    await until("6 gRPC calls refused while 8 requests are admitted", async () => settled.length >= 6);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(settled.length, 6, `only the calls beyond maxPending are answered while the inferer is stalled: ${JSON.stringify(settled)}`);
    assert.ok(settled.every((r) => r.code === grpc.status.UNAVAILABLE && r.ferryCode === "overloaded"), JSON.stringify(settled));
    caughtUp = true;
    for (const m of held) answer(m);
    assert.equal((await Promise.all(calls)).filter((r) => r.code === grpc.status.OK).length, 4, "every admitted call is answered once the inferer catches up");
    assert.ok((await Promise.all(http)).every((a) => a.status === 200));
    // Both kinds are counted in the gateway's request metrics, and the refused calls as shed.
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    assert.match(metrics, /^ferry_gateway_requests_total\{[^}]*pipeline="stalled"[^}]*code="200"[^}]*\} 8$/m);
    assert.match(metrics, /^ferry_gateway_requests_total\{[^}]*pipeline="stalled"[^}]*code="503"[^}]*\} 6$/m);
    assert.match(metrics, /^ferry_gateway_shed_requests_total\{[^}]*\} 6$/m);
  });
});

describe("load shedding against a real, saturated inferer", () => {
  let site: Awaited<ReturnType<typeof startTestSite>>;
  before(async () => { site = await startTestSite({ manifests: [join(models, "manifests", "cv-demo.json")], gateway: { maxPending: 4, maxInFlight: 1 }, logger: false }); });
  after(async () => { await site.stop(); });

  it("sheds with 503 overloaded, answers the rest with 200, and keeps serving afterwards", async () => {
    const image = readFileSync(join(models, "data", "image_224x224.arrow"));
    const answers = await Promise.all(Array.from({ length: 64 }, () => send(`${site.url}/pipelines/edge-cv-demo`, image, ARROW_FILE)));
    const ok = answers.filter((a) => a.status === 200).length;
    const shed = answers.filter((a) => a.status === 503 && a.code === "overloaded").length;
    assert.equal(ok + shed, 64, `only 200s and 503 overloaded: ${JSON.stringify(answers.filter((a) => a.status !== 200 && a.code !== "overloaded"))}`);
    assert.ok(ok >= 4 && shed > 0, `${ok} answered, ${shed} shed`);
    assert.equal((await send(`${site.url}/pipelines/edge-cv-demo`, image, ARROW_FILE)).status, 200);
  });
});
