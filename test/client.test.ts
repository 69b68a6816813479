import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setImmediate as tick } from "node:timers/promises";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { Field, FixedSizeList, Float32, Table, tableToIPC, vectorFromArray } from "apache-arrow";
import { RequestStream } from "@ferry/contracts";
import { provision, siteAssets, storageSettings } from "@ferry/runtime";
import { startNatsServer } from "@ferry/natsd";
import {
  FerryClientError, connectNats, httpClient, outputValues,
  type DurableResult, type HttpFerryClient, type InferInput, type InferenceRecord, type NatsFerryClient, type Submitted,
} from "ferry/client";
import { houseRef, models } from "./helpers/paths.js";
import { relDiff, startTestNats, startTestSite, until, type TestSite } from "./helpers/site.js";

const rows = houseRef.rows.map((tensor) => ({ tensor }));
const table = new Table({ tensor: vectorFromArray(houseRef.rows, new FixedSizeList(18, new Field("item", new Float32()))) });
const inputs: [string, InferInput][] = [
  ["pandas-records rows", rows],
  ["Arrow file bytes", new Uint8Array(readFileSync(join(models, "data", "houseprice.arrow")))],
  ["Arrow stream bytes", tableToIPC(table, "stream")],
  ["an arrow Table", table],
];

/** Asserts that `promise` rejects with a FerryClientError of this code and status. */
async function rejectsWith(promise: Promise<unknown>, code: string, status: number): Promise<FerryClientError> {
  let caught: unknown;
  await promise.catch((err: unknown) => { caught = err; });
  assert.ok(caught instanceof FerryClientError, `expected FerryClientError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.equal(caught.status, status);
  return caught;
}

/** Asserts a house-price record's prediction matches the generator's for row `i`. */
function assertHousePrice(record: InferenceRecord<number>, i: number): void {
  const got = outputValues(record)[0]![0]!;
  assert.ok(relDiff(got, houseRef.outputs[i]![0]!) < 1e-4, `row ${i}: ${got} vs ${houseRef.outputs[i]![0]}`);
}

/** The first `n` results an iteration yields. */
async function take(results: AsyncIterable<DurableResult<number>>, n: number): Promise<DurableResult<number>[]> {
  const out: DurableResult<number>[] = [];
  for await (const r of results) {
    out.push(r);
    if (out.length === n) break;
  }
  return out;
}

describe("client library against a site", () => {
  let site: TestSite;
  let http: HttpFerryClient;
  let nats: NatsFerryClient;
  before(async () => {
    site = await startTestSite();
    await provision(site.client, siteAssets(storageSettings()));
    http = httpClient(site.url);
    nats = await connectNats({ servers: site.nats.url, name: "client-test" });
  });
  after(async () => {
    await nats.close();
    await site.stop();
  });

  for (const [what, input] of inputs) {
    it(`infers on ${what} over HTTP and NATS, current and named pipeline, with the same outputs`, async () => {
      for (const pipeline of [undefined, "edge-houseprice"]) {
        const viaHttp = await http.infer<number>(input, { pipeline });
        const viaNats = await nats.infer<number>(input, { pipeline, requestId: "client-test" });
        assert.equal(viaHttp.length, houseRef.rows.length);
        assert.deepEqual(viaNats.map(outputValues), viaHttp.map(outputValues));
        assert.ok(viaNats.every((r) => r.pipeline_name === "edge-houseprice"));
        viaNats.forEach(assertHousePrice);
      }
    });
  }

  it("lists pipelines and models over HTTP", async () => {
    assert.ok((await http.pipelines()).some((p) => p.id === "edge-houseprice" && p.status === "Running"));
    assert.ok((await http.models()).some((m) => m.name === "house-price-estimator"));
  });

  it("maps errors to the server's codes, or the client's own", async () => {
    await rejectsWith(http.infer(rows, { pipeline: "no-such-pipeline" }), "unknown_pipeline", 404);
    await rejectsWith(nats.infer(rows, { pipeline: "no-such-pipeline" }), "no_inferer", 503);
    for (const client of [http, nats]) {
      await rejectsWith(client.infer([{ tensor: [1] }]), "bad_shape", 422);
      await rejectsWith(client.infer(new Uint8Array([1, 2, 3, 4])), "bad_arrow", 400);
    }
    await rejectsWith(nats.infer(rows, { pipeline: "a.b" }), "bad_request", 400);
    await rejectsWith(nats.submit("edge-houseprice", rows, { id: "not a token" }), "bad_request", 400);
    await rejectsWith(httpClient("http://127.0.0.1:1").infer(rows), "unreachable", 503);
  });

  describe("durable requests (needs the inferer's ferry.submit side)", () => {
    const run = Date.now().toString(36);
    const ids = rows.map((_, i) => `house-${run}-${i}`);
    let submitted: Submitted[];
    before(async () => {
      submitted = await Promise.all(rows.map((row, i) => nats.submit("edge-houseprice", [row], { id: ids[i] })));
    });

    it("submit stores each id once", async () => {
      assert.deepEqual(submitted.map((s) => [s.id, s.duplicate]), ids.map((id) => [id, false]));
      assert.ok(submitted.every((s) => s.seq > 0));
      const again = await nats.submit("edge-houseprice", [rows[0]!], { id: ids[0] });
      assert.equal(again.duplicate, true);
      assert.equal(again.seq, submitted[0]!.seq);
    });

    it("result() returns each stored result, waiting for those not there yet", { timeout: 90_000 }, async () => {
      const results = await Promise.all(ids.map((id) => nats.result<number>("edge-houseprice", id, { timeoutMs: 60_000 })));
      results.forEach((r, i) => {
        assert.equal(r.id, ids[i]);
        assert.equal(r.status, 200, JSON.stringify(r.error));
        assert.ok(r.deliveries >= 1 && r.seq > 0);
        assert.equal(r.records?.length, 1);
        assertHousePrice(r.records![0]!, i);
      });
      // All stored now: this time straight from the stream's last message on the subject.
      const stored = await nats.result<number>("edge-houseprice", ids[3]!);
      assert.equal(stored.seq, results[3]!.seq);
      assert.deepEqual(stored.records, results[3]!.records);
    });

    it("a durable request the pipeline refuses gets the error as its result", { timeout: 90_000 }, async () => {
      const { id } = await nats.submit("edge-houseprice", [{ tensor: [1] }]);
      const r = await nats.result("edge-houseprice", id, { timeoutMs: 60_000 });
      assert.equal(r.status, 422);
      assert.equal(r.error?.code, "bad_shape");
      assert.equal(r.records, undefined);
    });

    it("results() yields the pipeline's results; a durable consumer resumes where the device stopped", { timeout: 90_000 }, async () => {
      const all = await take(nats.results<number>("edge-houseprice", { ids }), ids.length);
      assert.deepEqual(all.map((r) => r.id).sort(), [...ids].sort());
      assert.ok(all.every((r, i) => i === 0 || r.seq > all[i - 1]!.seq), "stream order");
      all.forEach((r) => assertHousePrice(r.records![0]!, ids.indexOf(r.id)));

      const durable = `device-${run}`;
      const first = await take(nats.results<number>("edge-houseprice", { durable, ids }), 10);
      // The last result of the first run was not acknowledged (the loop broke on it): it comes again.
      const second = await take(nats.results<number>("edge-houseprice", { durable, ids }), ids.length - 9);
      assert.equal(second[0]!.id, first[9]!.id);
      assert.deepEqual([...first, ...second.slice(1)].map((r) => r.id).sort(), [...ids].sort());
    });
  });
});

describe("client library while the link to the site is down", () => {
  it("holds submissions up to maxBufferBytes, refuses more at once, and delivers what it held on reconnect", async () => {
    const server = await startTestNats();
    const admin = await connect({ servers: server.url });
    await provision(admin, siteAssets(storageSettings()));
    await admin.close();
    const client = await connectNats({ servers: server.url, maxBufferBytes: 64 * 1024 });
    await server.kill();
    await until("the client sees the link down", () => Promise.resolve(!client.connected));

    const held: Promise<Submitted>[] = [];
    let refused: unknown;
    for (let i = 0; i < 200 && refused === undefined; i++) {
      const p = client.submit("edge-houseprice", rows, { id: `offline-${i}` });
      p.catch((err: unknown) => { refused = err; });
      await tick();
      if (refused === undefined) held.push(p);
    }
    const err = await rejectsWith(Promise.reject(refused as Error), "offline_buffer_full", 503);
    assert.match(err.message, /bytes in \d+ requests are held \(the link to the site has been down since/);
    assert.ok(held.length > 1 && client.bufferedBytes <= 64 * 1024);

    const again = await startNatsServer({ dataDir: server.dir, port: server.port });
    try {
      const acks = await Promise.all(held);
      assert.equal(new Set(acks.map((a) => a.seq)).size, held.length);
      assert.equal(client.bufferedBytes, 0);
      const check = await connect({ servers: again.url });
      assert.equal((await (await jetstreamManager(check)).streams.info(RequestStream)).state.messages, held.length);
      await check.close();
    } finally {
      await client.close();
      await again.stop();
      await server.stop();
    }
  });
});
