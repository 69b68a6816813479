import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Subject, lastValueFrom, toArray } from "rxjs";
import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import { Headers, inferSubject, type InferenceRecord } from "@ferry/contracts";
import { batchWindows, start as startInferer, type Inferer } from "@ferry/inferer";
import { houseRef, manifests, models } from "./helpers/paths.js";
import { ARROW_FILE, PANDAS, houseRecords, quiet, startTestNats } from "./helpers/site.js";
import { readFileSync } from "node:fs";

describe("batchWindows (the rxjs operator behind inferer batching)", () => {
  const batchesOf = async (w: { windowMs: number; maxBatch: number }, feed: (s: Subject<number>) => Promise<void>): Promise<number[][]> => {
    const s = new Subject<number>();
    const out = lastValueFrom(s.pipe(batchWindows(w, () => 1), toArray()));
    await feed(s);
    s.complete();
    return out;
  };
  const tick = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

  it("window 0 merges what arrives in the same task, and nothing later", async () => {
    const batches = await batchesOf({ windowMs: 0, maxBatch: 100 }, async (s) => {
      for (let i = 0; i < 5; i++) s.next(i);
      await tick(5);
      s.next(5);
      await tick(5);
    });
    assert.deepEqual(batches, [[0, 1, 2, 3, 4], [5]]);
  });

  it("closes a batch at maxBatch at once", async () => {
    const batches = await batchesOf({ windowMs: 1000, maxBatch: 3 }, async (s) => {
      for (let i = 0; i < 7; i++) s.next(i);
      await Promise.resolve();
    });
    assert.deepEqual(batches, [[0, 1, 2], [3, 4, 5], [6]]);
  });

  it("a window opens at its first item and takes what arrives before it closes", async () => {
    const batches = await batchesOf({ windowMs: 500, maxBatch: 100 }, async (s) => {
      s.next(1);
      await tick(10);
      s.next(2);
      await tick(1500);
      s.next(3);
      await tick(1000);
    });
    assert.deepEqual(batches, [[1, 2], [3]]);
  });
});

type Reply = { status: number; records: InferenceRecord[] };

/** What a record says about its row, without the per-run fields (time, elapsed). */
function answerOf(r: InferenceRecord): unknown {
  return { outputs: r.outputs, model: r.model_name, checks: r.check_failures, original: r.original_data };
}

describe("inferer batching: many devices, one row each, one session run", () => {
  let nats: Awaited<ReturnType<typeof startTestNats>>;
  let devices: NatsConnection[];
  let dir: string;
  const image = readFileSync(join(models, "data", "image_224x224.arrow"));

  const ask = async (nc: NatsConnection, pipeline: string, body: string | Uint8Array, type = PANDAS): Promise<Reply> => {
    const h = headers();
    h.set(Headers.contentType, type);
    const m = await nc.request(inferSubject(pipeline), body, { headers: h, timeout: 20_000 });
    return { status: Number(m.headers?.get(Headers.status)), records: m.json<InferenceRecord[]>() };
  };
  const withInferer = async (o: Parameters<typeof startInferer>[0], body: (i: Inferer) => Promise<void>): Promise<void> => {
    const inferer = await startInferer({ logRecords: false, watch: false, logger: quiet, durable: false, ...o, natsUrl: nats.url });
    try {
      await body(inferer);
    } finally {
      await inferer.stop();
    }
  };

  before(async () => {
    nats = await startTestNats();
    devices = await Promise.all(Array.from({ length: 8 }, () => connect({ servers: nats.url })));
    dir = await mkdtemp(join(tmpdir(), "ferry-batching-"));
  });
  after(async () => {
    await Promise.all(devices.map((d) => d.close()));
    await nats.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("64 concurrent single-row requests take fewer runs, and each reply equals its unbatched answer", async () => {
    const rows = Array.from({ length: 64 }, (_, i) => houseRef.rows[i % houseRef.rows.length]!.map((v, k) => (k === 2 ? v + i : v)));
    const alone: Reply[] = [];
    await withInferer({ manifests: [manifests.houseprice], batching: false }, async () => {
      for (const row of rows) alone.push(await ask(devices[0]!, "edge-houseprice", houseRecords([row])));
    });
    await withInferer({ manifests: [manifests.houseprice], batching: { windowMs: 20, maxBatch: 64 } }, async (inferer) => {
      const together = await Promise.all(rows.map((row, i) => ask(devices[i % devices.length]!, "edge-houseprice", houseRecords([row]))));
      const runs = inferer.stats().runs;
      assert.ok(runs < 64, `64 requests took ${runs} runs`);
      assert.equal(inferer.stats().requests, 64);
      together.forEach((r, i) => {
        assert.equal(r.status, 200);
        assert.equal(r.records.length, 1);
        assert.deepEqual(answerOf(r.records[0]!), answerOf(alone[i]!.records[0]!), `request ${i}`);
      });
    });
  });

  it("batches image requests too (Arrow bodies), with the same answers", async () => {
    const alone = await withReplies({ manifests: [manifests.cv], batching: false }, 1);
    const together = await withReplies({ manifests: [manifests.cv], batching: { windowMs: 20, maxBatch: 16 } }, 16);
    for (const r of together) assert.deepEqual(answerOf(r.records[0]!), answerOf(alone[0]!.records[0]!));
  });

  async function withReplies(o: Partial<Parameters<typeof startInferer>[0]>, n: number): Promise<Reply[]> {
    let replies: Reply[] = [];
    await withInferer({ manifests: [], ...o }, async (inferer) => {
      replies = await Promise.all(Array.from({ length: n }, (_, i) => ask(devices[i % devices.length]!, "edge-cv-demo", image, ARROW_FILE)));
      if (n > 1) assert.ok(inferer.stats().runs < n, `${n} requests took ${inferer.stats().runs} runs`);
    });
    return replies;
  }

  it("a manifest turns batching on or off for its pipeline, over the inferer's default", async () => {
    const base = JSON.parse(await readFile(manifests.houseprice, "utf8")) as { steps: { file: string }[] };
    base.steps[0]!.file = join(models, "house-price-estimator.onnx");
    const on = join(dir, "on.json");
    const off = join(dir, "off.json");
    await writeFile(on, JSON.stringify({ ...base, batching: { window_ms: 50, max_batch: 32 } }));
    await writeFile(off, JSON.stringify({ ...base, batching: false }));
    const burst = (): Promise<Reply[]> => Promise.all(Array.from({ length: 32 }, (_, i) => ask(devices[i % devices.length]!, "edge-houseprice", houseRecords([houseRef.rows[0]!]))));
    await withInferer({ manifests: [on], batching: false }, async (inferer) => {
      await burst();
      assert.ok(inferer.stats().runs < 32, `batching on: ${inferer.stats().runs} runs`);
    });
    await withInferer({ manifests: [off], batching: { windowMs: 50, maxBatch: 32 } }, async (inferer) => {
      await burst();
      assert.equal(inferer.stats().runs, 32, "batching off: one run per request");
    });
  });
});
