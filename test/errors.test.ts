import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { createConnection } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Table, tableToIPC, vectorFromArray } from "apache-arrow";
import { Headers, InfererQueue, encodeEnvelope, inferSubject, type InferenceRecord } from "@ferry/contracts";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { houseRef, manifests, models } from "./helpers/paths.js";
import { ARROW_FILE, ARROW_STREAM, PANDAS, houseRecords, post, startTestSite, type TestSite } from "./helpers/site.js";

interface ErrorReply { error: string; code: string }

async function expectError(r: Promise<{ status: number; json: unknown; type: string }>, status: number, code: string, mentions?: RegExp): Promise<void> {
  const res = await r;
  assert.equal(res.status, status, JSON.stringify(res.json));
  assert.match(res.type, /application\/json/);
  const body = res.json as ErrorReply;
  assert.deepEqual(Object.keys(body).sort(), ["code", "error"], "an error body is {error, code}, nothing else");
  assert.equal(body.code, code);
  assert.equal(typeof body.error, "string");
  if (mentions) assert.match(body.error, mentions);
}

/** Sends `request` as raw bytes and resolves to everything the server sends before it closes the connection. */
function rawExchange(host: string, port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = createConnection({ host, port }, () => socket.write(request));
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", reject);
    socket.on("close", () => resolve(Buffer.concat(chunks).toString("latin1")));
  });
}

describe("bad input gets a JSON error and the site keeps serving", () => {
  let site: TestSite;
  before(async () => { site = await startTestSite({ manifests: [manifests.houseprice], gateway: { bodyLimit: 64 * 1024 } }); });
  after(async () => { await site.stop(); });
  const infer = (body: string | Uint8Array, headers: Record<string, string>) => post(`${site.url}/infer`, body, headers);

  it("malformed JSON → 400 bad_json", () => expectError(infer("[{\"tensor\": [1,", { "Content-Type": PANDAS }), 400, "bad_json"));
  it("pandas-records that is not an array of objects → 400 bad_records", async () => {
    await expectError(infer("{\"tensor\": [1]}", { "Content-Type": PANDAS }), 400, "bad_records");
    await expectError(infer("[[1, 2]]", { "Content-Type": PANDAS }), 400, "bad_records");
  });
  it("corrupt or truncated Arrow → 400 bad_arrow", async () => {
    const good = tableToIPC(new Table({ tensor: vectorFromArray(houseRef.rows.slice(0, 2)) }), "file");
    await expectError(infer(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]), { "Content-Type": ARROW_FILE }), 400, "bad_arrow");
    await expectError(infer(good.subarray(0, Math.floor(good.length * 0.6)), { "Content-Type": ARROW_FILE }), 400, "bad_arrow");
    const flipped = new Uint8Array(good);
    flipped.fill(0xff, 8, 64);
    await expectError(infer(flipped, { "Content-Type": ARROW_FILE }), 400, "bad_arrow");
  });
  it("an empty body → 400 empty_body; a body that is not Arrow → 400 bad_arrow (bad magic), at the gateway and at the inferer", async () => {
    for (const type of [ARROW_FILE, ARROW_STREAM, PANDAS]) await expectError(infer(new Uint8Array(0), { "Content-Type": type }), 400, "empty_body", /^empty body/);
    for (const type of [ARROW_FILE, ARROW_STREAM]) {
      await expectError(infer(houseRecords(houseRef.rows.slice(0, 1)), { "Content-Type": type }), 400, "bad_arrow", /^not an Arrow IPC file \(bad magic\)/);
    }
    // Straight to the inferer over NATS, as a durable request or a client on the site's NATS would send it.
    for (const [body, code] of [[new Uint8Array(0), "empty_body"], [new TextEncoder().encode("not arrow"), "bad_arrow"]] as const) {
      const h = natsHeaders();
      h.set(Headers.contentType, ARROW_FILE);
      const reply = await site.client.request(inferSubject("edge-houseprice"), body, { headers: h, timeout: 10_000 });
      assert.equal(reply.headers?.get(Headers.status), "400", new TextDecoder().decode(reply.data));
      assert.equal((JSON.parse(new TextDecoder().decode(reply.data)) as ErrorReply).code, code);
    }
  });
  it("requests Node's HTTP parser refuses (bad header, bad chunked encoding) → 400 {error, code} JSON, then the connection closes", async () => {
    const { hostname, port } = new URL(site.url);
    const broken = [
      "GET /health HTTP/1.1\r\nHost: x\r\nNo colon in this header\r\n\r\n",
      "POST /infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\nnot hex\r\n0\r\n\r\n",
      "GET /health HTTP/9.9 extra\r\n\r\n",
    ];
    for (const request of broken) {
      const raw = await rawExchange(hostname, Number(port), request);
      const [head, body] = raw.split("\r\n\r\n", 2) as [string, string];
      assert.match(head, /^HTTP\/1\.1 400 Bad Request\r\n/, JSON.stringify(request));
      assert.match(head, /content-type: application\/json/i);
      const json = JSON.parse(body) as ErrorReply;
      assert.deepEqual(Object.keys(json).sort(), ["code", "error"]);
      assert.equal(json.code, "bad_request");
      assert.match(json.error, /^malformed HTTP request: /);
    }
    const huge = await rawExchange(hostname, Number(port), `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`);
    assert.match(huge, /^HTTP\/1\.1 431 /);
    assert.equal((JSON.parse(huge.split("\r\n\r\n")[1]!) as ErrorReply).code, "headers_too_large");
  });
  it("a missing input column → 422 naming the column and the expected shape", () =>
    expectError(infer(JSON.stringify([{ a: houseRef.rows[0], b: 1 }]), { "Content-Type": PANDAS }), 422, "missing_input", /"tensor".*float32 \[batch,18\]/));
  it("a wrong tensor width → 422 naming the column and the expected shape", () =>
    expectError(infer(houseRecords([houseRef.rows[0]!.slice(0, 17)]), { "Content-Type": PANDAS }), 422, "bad_shape", /"tensor" row 0 has 17 values, expected 18.*\[batch,18\]/));
  it("null, true or a number beyond float64 (1e400) in a float column → 422 bad_input_type naming the column and row", async () => {
    const good = houseRef.rows[0]!.slice(1).join(",");
    for (const bad of ["null", "true", "1e400"]) {
      await expectError(infer(`[{"tensor": [1,${good}]}, {"tensor": [${bad},${good}]}]`, { "Content-Type": PANDAS }), 422, "bad_input_type", /column "tensor"( row 1)?/);
    }
  });
  it("an unsupported or missing Content-Type → 415", async () => {
    await expectError(infer("a,b\n1,2", { "Content-Type": "text/csv" }), 415, "unsupported_media_type");
    await expectError(infer(houseRecords(houseRef.rows.slice(0, 1)), {}), 415, "unsupported_media_type");
  });
  it("JSON nested thousands deep (found by the fuzz test) → 400 bad_records, not a stack overflow", () => {
    const deep = `${"[".repeat(20_000)}0${"]".repeat(20_000)}`;
    return expectError(infer(`[{"tensor": ${JSON.stringify(houseRef.rows[0])}, "extra": ${deep}}]`, { "Content-Type": PANDAS }), 400, "bad_records");
  });
  it("/logs times beyond the year 9999 or parameters nested too deep to show (found by the fuzz test) → 400", async () => {
    for (const body of ['{"start_time": 1e300}', '{"end_time": "253402300800000"}', `{"pipeline": ${"{\"a\":".repeat(10_000)}1${"}".repeat(10_000)}}`]) {
      const r = await post(`${site.url}/logs`, body, { "Content-Type": "application/json" });
      assert.equal(r.status, 400, body.slice(0, 60));
      assert.equal((r.json as { code: string }).code, "bad_request");
    }
  });
  it("/logs cursors forged with a seq beyond 2^53 or a partition that is not a string (found by the fuzz test) → 400", async () => {
    const forged = [{ seq: 1e20, index: 0, order: "asc" }, { seq: 2 ** 64, index: 0, order: "desc" }, { seq: 1, index: 0, order: "asc", partition: 5 },
      { seq: 1, index: 0, order: "desc", partition: [] }, { seq: -1, index: 0, order: "asc" }, { seq: 1, index: 0, order: "asc", startTime: "0" }];
    for (const c of forged) {
      const cursor = Buffer.from(JSON.stringify(c)).toString("base64url");
      await expectError(post(`${site.url}/logs`, JSON.stringify({ cursor }), { "Content-Type": "application/json" }), 400, "bad_request", /cursor/);
    }
  });
  it("URLs with a malformed %-escape (found by the fuzz test) → 400 Ferry JSON, not Fastify's own body", async () => {
    for (const path of ["/pipelines/%zz", "/pipelines/a%", "/pipelines/%G0", "/infer%"]) {
      await expectError(post(`${site.url}${path}`, houseRecords(houseRef.rows.slice(0, 1)), { "Content-Type": PANDAS }), 400, "bad_request", /URL/);
    }
  });
  it("pipeline names up to 128 characters reach Ferry; longer ones are unknown pipelines (found by the fuzz test)", async () => {
    for (const n of [101, 128, 129, 600, 5000]) {
      await expectError(post(`${site.url}/pipelines/${"p".repeat(n)}`, houseRecords(houseRef.rows.slice(0, 1)), { "Content-Type": PANDAS }), 404, "unknown_pipeline");
    }
  });
  it("a NATS batch envelope whose part headers are not strings (found by the fuzz test) → 400, not 500", async () => {
    const body = houseRecords(houseRef.rows.slice(0, 1));
    for (const bad of [{ "Content-Type": 5 }, { "Content-Type": PANDAS, Accept: ["application/json"] }, { "Content-Type": PANDAS, Accept: {} }]) {
      const h = natsHeaders();
      h.set(Headers.batch, "1");
      const envelope = encodeEnvelope([{ headers: bad as unknown as Record<string, string>, body: new TextEncoder().encode(body) }]);
      const reply = await site.client.request(inferSubject("edge-houseprice"), envelope, { headers: h, timeout: 10_000 });
      assert.equal(reply.headers?.get(Headers.status), "400", new TextDecoder().decode(reply.data));
      assert.equal((JSON.parse(new TextDecoder().decode(reply.data)) as ErrorReply).code, "bad_request");
    }
  });
  it("an unsupported Accept → 406", () =>
    expectError(infer(houseRecords(houseRef.rows.slice(0, 1)), { "Content-Type": PANDAS, Accept: "text/html" }), 406, "not_acceptable"));
  it("a body over the limit → 413", () =>
    expectError(infer(houseRecords(Array.from({ length: 1000 }, () => houseRef.rows[0]!)), { "Content-Type": PANDAS }), 413, "payload_too_large"));
  it("an unknown pipeline → 404", async () => {
    await expectError(post(`${site.url}/pipelines/no-such-pipeline`, houseRecords(houseRef.rows.slice(0, 1)), { "Content-Type": PANDAS }), 404, "unknown_pipeline");
    await expectError(post(`${site.url}/pipelines/bad.name`, "[]", { "Content-Type": PANDAS }), 404, "unknown_pipeline");
  });
  it("an unknown route → 404 JSON", async () => {
    const r = await fetch(`${site.url}/nope`);
    assert.equal(r.status, 404);
    assert.equal(((await r.json()) as ErrorReply).code, "not_found");
  });
  it("a bad request coalesced with good ones fails alone", async () => {
    const good = houseRecords(houseRef.rows.slice(0, 1));
    const results = await Promise.all(Array.from({ length: 24 }, (_, i) => infer(i % 3 === 0 ? "[{\"tensor\": [1, 2]}]" : good, { "Content-Type": PANDAS })));
    results.forEach((r, i) => assert.equal(r.status, i % 3 === 0 ? 422 : 200));
  });
  it("still serves after all of that", async () => {
    const r = await infer(houseRecords(houseRef.rows.slice(0, 1)), { "Content-Type": PANDAS });
    assert.equal(r.status, 200);
    assert.equal((r.json as InferenceRecord[]).length, 1);
  });
});

describe("when inferers are missing, slow or broken", () => {
  it("no inferer: /infer → 503, /pipelines reports Error without hanging", async () => {
    const site = await startTestSite({ manifests: [] });
    try {
      await expectError(post(`${site.url}/infer`, houseRecords(houseRef.rows.slice(0, 1)), { "Content-Type": PANDAS }), 503, "no_inferer");
      await expectError(post(`${site.url}/pipelines/edge-houseprice`, houseRecords(houseRef.rows.slice(0, 1)), { "Content-Type": PANDAS }), 503, "no_inferer");
      const r = await fetch(`${site.url}/pipelines`, { signal: AbortSignal.timeout(5000) });
      assert.deepEqual(((await r.json()) as { pipelines: unknown[] }).pipelines, [{ id: "edge-houseprice", status: "Error", detail: "no inferer is serving this pipeline" }]);
    } finally {
      await site.stop();
    }
  });

  it("an inferer that does not answer in time → 504, and the gateway keeps serving", async () => {
    const site = await startTestSite({ manifests: [manifests.houseprice], gateway: { timeoutMs: 300, pipelines: ["slow"] } });
    // A real NATS subscriber in the inferers' queue group that takes requests and never replies.
    const stuck = site.client.subscribe(inferSubject("slow"), { queue: InfererQueue });
    try {
      await site.client.flush();
      await expectError(post(`${site.url}/pipelines/slow`, houseRecords(houseRef.rows.slice(0, 1)), { "Content-Type": PANDAS }), 504, "inferer_timeout");
      const ok = await post(`${site.url}/infer`, houseRecords(houseRef.rows.slice(0, 1)), { "Content-Type": PANDAS });
      assert.equal(ok.status, 200);
    } finally {
      stuck.unsubscribe();
      await site.stop();
    }
  });

  it("a model that fails to load: the pipeline reports Error with the reason, requests get 503", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ferry-bad-model-"));
    const site = await (async () => {
      await writeFile(join(dir, "broken.onnx"), "this is not an onnx file");
      await writeFile(join(dir, "broken.json"), JSON.stringify({
        pipeline: "broken", pipeline_version: "00000000-0000-4000-8000-000000000001",
        steps: [{ model: "broken-model", version: "00000000-0000-4000-8000-000000000002", file: "broken.onnx" }],
      }));
      return startTestSite({ manifests: [manifests.houseprice, join(dir, "broken.json")] });
    })();
    try {
      const p = ((await (await fetch(`${site.url}/pipelines`)).json()) as { pipelines: { id: string; status: string; detail?: string }[] }).pipelines;
      const broken = p.find((x) => x.id === "broken");
      assert.equal(broken?.status, "Error");
      assert.match(broken?.detail ?? "", /broken-model.*failed to load/);
      assert.equal(p.find((x) => x.id === "edge-houseprice")?.status, "Running");
      await expectError(post(`${site.url}/pipelines/broken`, houseRecords(houseRef.rows.slice(0, 1)), { "Content-Type": PANDAS }), 503, "pipeline_not_ready", /failed to load/);
    } finally {
      await site.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a model file whose sha256 differs from the manifest's is refused", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ferry-sha-"));
    await writeFile(join(dir, "m.json"), JSON.stringify({
      pipeline: "shamismatch", pipeline_version: "00000000-0000-4000-8000-000000000003",
      steps: [{ model: "house", version: "00000000-0000-4000-8000-000000000004", file: join(models, "house-price-estimator.onnx"), sha256: "0".repeat(64) }],
    }));
    const site = await startTestSite({ manifests: [join(dir, "m.json")] });
    try {
      const p = ((await (await fetch(`${site.url}/pipelines`)).json()) as { pipelines: { id: string; status: string; detail?: string }[] }).pipelines;
      assert.match(p.find((x) => x.id === "shamismatch")?.detail ?? "", /sha256/);
    } finally {
      await site.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
