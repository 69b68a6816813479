import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Table, tableFromIPC, tableToIPC, vectorFromArray } from "apache-arrow";
import { connect, errors, headers } from "@nats-io/transport-node";
import { startNatsServer } from "@ferry/natsd";
import { LogPublisher, start as startInferer } from "@ferry/inferer";
import { jetstreamManager } from "@nats-io/jetstream";
import { pageRetrying, start as startLogger, type LogPage } from "@ferry/logger";
import { start as startGateway } from "@ferry/gateway";
import { LogStream, logSubject, type InferenceRecord, type LogRecord } from "@ferry/contracts";
import { logStreamConfig, provision, siteAssets, storageSettings, streamNameOf } from "@ferry/runtime";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { houseRef, manifests, models } from "./helpers/paths.js";
import { ARROW_FILE, PANDAS, houseRecords, post, quiet, startTestNats, startTestSite, type TestSite } from "./helpers/site.js";

interface Page { status: number; records: LogRecord[]; cursor: string | null; iteration: string | null }

async function logs(url: string, params: Record<string, unknown> = {}, contentType = "application/json"): Promise<Page> {
  const res = await fetch(`${url}/logs`, { method: "POST", body: JSON.stringify(params), headers: { "Content-Type": contentType } });
  const body = await res.json() as unknown;
  return { status: res.status, records: res.ok ? body as LogRecord[] : [], cursor: res.headers.get("x-iteration-cursor"), iteration: res.headers.get("x-iteration-status") };
}

async function infer(url: string, rows: number[][]): Promise<InferenceRecord[]> {
  const r = await post(`${url}/infer`, houseRecords(rows), { "Content-Type": PANDAS });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json as InferenceRecord[];
}

/** Waits until JetStream acknowledged `n` records (publishing is asynchronous, after the reply). */
async function untilStored(site: TestSite, n: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = site.inferer!.logStats();
    if (s.published >= n) return;
    if (Date.now() > deadline) assert.fail(`${s.published} records acknowledged, expected ${n}`);
    await sleep(50);
  }
}

/** Every stored record, read through /logs pages. */
async function storedCount(url: string): Promise<number> {
  return (await allPages(url, { start_time: 0, page_size: 1000 })).length;
}

async function allPages(url: string, params: Record<string, unknown>): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  let page = await logs(url, params);
  for (let i = 0; i < 100; i++) {
    assert.equal(page.status, 200);
    out.push(...page.records);
    if (page.iteration === "End") return out;
    page = await logs(url, { cursor: page.cursor, page_size: params.page_size });
  }
  assert.fail("paging did not end");
}

describe("inference logs", () => {
  let site: TestSite;
  before(async () => { site = await startTestSite({ manifests: [manifests.houseprice] }); });
  after(async () => { await site.stop(); });

  it("N inferred rows → exactly N records in the spec's format", async () => {
    const replies = await infer(site.url, houseRef.rows.slice(0, 5));
    await infer(site.url, houseRef.rows.slice(5, 8));
    await untilStored(site, 8);
    await sleep(200);
    assert.equal(await storedCount(site.url), 8);
    const page = await logs(site.url, {}, "Content-Type: application/json; format=pandas-records");
    assert.equal(page.status, 200);
    assert.equal(page.records.length, 8);
    const shas = ((await (await fetch(`${site.url}/models`)).json()) as { models: { name: string; sha: string }[] }).models;
    page.records.forEach((r, i) => {
      assert.deepEqual(Object.keys(r), ["time", "in", "out", "anomaly", "metadata"]);
      assert.equal(typeof r.time, "number");
      assert.deepEqual(r.in, { tensor: houseRef.rows[i] });
      assert.deepEqual(Object.keys(r.out), ["variable"]);
      assert.deepEqual(r.anomaly, { count: 0 });
      assert.equal(typeof r.metadata.last_model, "string");
      const last = JSON.parse(r.metadata.last_model) as { model_name: string; model_sha: string };
      assert.equal(last.model_name, "house-price-estimator");
      assert.equal(last.model_sha, shas.find((m) => m.name === "house-price-estimator")?.sha);
      assert.match(r.metadata.pipeline_version, /^[0-9a-f-]{36}$/);
      assert.equal(r.metadata.elapsed.length, 2);
      assert.deepEqual(r.metadata.dropped, []);
      assert.equal(r.metadata.partition, "test-site");
    });
    assert.equal(page.records[2]!.out.variable![0], replies[2]!.outputs[0]!.Float!.data[0]);
  });

  it("pages cover every record once, in both orders", async () => {
    const stored = await storedCount(site.url);
    const asc = await allPages(site.url, { start_time: 0, page_size: 3 });
    assert.equal(asc.length, stored);
    const desc = await allPages(site.url, { order: "DESC", page_size: 3 });
    assert.equal(desc.length, stored);
    assert.deepEqual(desc.map((r) => JSON.stringify(r)).reverse(), asc.map((r) => JSON.stringify(r)));
    const latest = await logs(site.url, { page_size: 2 });
    assert.deepEqual(latest.records.map((r) => JSON.stringify(r)), asc.slice(-2).map((r) => JSON.stringify(r)));
  });

  it("filters by time range and pipeline", async () => {
    const before = await storedCount(site.url);
    await sleep(30);
    const t1 = Date.now();
    await infer(site.url, houseRef.rows.slice(10, 14));
    await untilStored(site, before + 4);
    const since = await logs(site.url, { start_time: new Date(t1).toISOString() });
    assert.deepEqual(since.records.map((r) => r.in.tensor), houseRef.rows.slice(10, 14));
    const until = await logs(site.url, { start_time: 0, end_time: t1 - 1 });
    assert.equal(until.records.length, before);
    assert.equal((await logs(site.url, { pipeline: "edge-houseprice", start_time: t1 })).records.length, 4);
    assert.equal((await logs(site.url, { pipeline: "other-pipeline" })).records.length, 0);
  });

  it("a time range that starts inside one batched message still finds its records", async () => {
    const before = await storedCount(site.url);
    await infer(site.url, [houseRef.rows[15]!]);
    await sleep(5);
    const t = Date.now();
    await sleep(2);
    await infer(site.url, [houseRef.rows[16]!, houseRef.rows[17]!]);
    await untilStored(site, before + 3);
    const page = await logs(site.url, { start_time: t });
    assert.deepEqual(page.records.map((r) => r.in.tensor), [houseRef.rows[16], houseRef.rows[17]]);
    assert.equal(page.iteration, "End");
  });

  it("answers Arrow when asked", async () => {
    const res = await fetch(`${site.url}/logs`, { method: "POST", body: "{}", headers: { "Content-Type": "application/json", Accept: ARROW_FILE } });
    assert.equal(res.status, 200);
    const t = tableFromIPC(new Uint8Array(await res.arrayBuffer()));
    assert.equal(t.numRows, await storedCount(site.url));
    assert.equal(typeof t.getChild("time")?.get(0), "bigint");
    assert.equal(t.getChild("metadata.partition")?.get(0), "test-site");
  });

  it("refuses bad parameters with 400", async () => {
    for (const bad of [{ order: "sideways" }, { page_size: -1 }, { start_time: "yesterday" }, { nonsense: 1 }, { cursor: "not-a-cursor" }]) {
      const page = await logs(site.url, bad);
      assert.equal(page.status, 400, JSON.stringify(bad));
    }
    const res = await fetch(`${site.url}/logs`, { method: "POST", body: "{oops", headers: { "Content-Type": "application/json" } });
    assert.equal(res.status, 400);
  });
});

describe("log durability and limits", () => {
  it("drops inputs larger than the limit from the record, never from the reply", async () => {
    const site = await startTestSite({ manifests: [manifests.houseprice], inferer: { logDropBytes: 100 } });
    try {
      const [reply] = await infer(site.url, [houseRef.rows[0]!]);
      assert.deepEqual(reply!.original_data, { tensor: houseRef.rows[0] });
      await untilStored(site, 1);
      const [record] = (await logs(site.url)).records;
      assert.deepEqual(record!.in, {});
      assert.deepEqual(record!.metadata.dropped, ["tensor"]);
      // Arrow: only the large column goes; the small one stays in the record.
      const table = new Table({ tensor: vectorFromArray([houseRef.rows[1]!]), site_id: vectorFromArray([7]) });
      const r = await post(`${site.url}/infer`, tableToIPC(table, "file"), { "Content-Type": ARROW_FILE });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      await untilStored(site, 2);
      const latest = (await logs(site.url, { order: "desc", page_size: 1 })).records[0]!;
      assert.deepEqual(latest.in, { site_id: 7 });
      assert.deepEqual(latest.metadata.dropped, ["tensor"]);
    } finally {
      await site.stop();
    }
  });

  it("--log-ack sync: without a log stream, an inference is answered 503 logs_unavailable (it ran, its record is not stored)", async () => {
    const assets = siteAssets(storageSettings()).filter((a) => streamNameOf(a) !== LogStream);
    const site = await startTestSite({ manifests: [manifests.houseprice], logger: false, assets, inferer: { logAck: "sync", logPublisher: { retryDelayMs: 100, ackTimeoutMs: 500 } } });
    try {
      const r = await post(`${site.url}/infer`, houseRecords([houseRef.rows[0]!]), { "Content-Type": PANDAS });
      assert.equal(r.status, 503);
      assert.equal((r.json as { code: string }).code, "logs_unavailable");
    } finally {
      await site.stop();
    }
  });

  it("--log-ack async: without a log stream, inferences succeed and the records arrive once it exists; overflow is counted", async () => {
    const assets = siteAssets(storageSettings()).filter((a) => streamNameOf(a) !== LogStream);
    const site = await startTestSite({ manifests: [manifests.houseprice], logger: false, assets, inferer: { logAck: "async", logPublisher: { maxBuffered: 6, retryDelayMs: 100, ackTimeoutMs: 500 } } });
    try {
      for (let i = 0; i < 10; i++) await infer(site.url, [houseRef.rows[i]!]);
      await sleep(100);
      const stats = site.inferer!.logStats();
      assert.equal(stats.overflow, 4);
      assert.equal(stats.published, 0);
      await provision(site.client, [{ kind: "stream", config: logStreamConfig(storageSettings()) }]);
      const logger = await startLogger({ natsUrl: site.nats.url, logger: quiet });
      try {
        await untilStored(site, 6);
        await sleep(300);
        assert.equal(await storedCount(site.url), 6, "each buffered record stored once");
        assert.equal(site.inferer!.logStats().published, 6);
      } finally {
        await logger.stop();
      }
    } finally {
      await site.stop();
    }
  });

  it("a logger stopped during load and started again still answers, and nothing is missing", async () => {
    const site = await startTestSite({ manifests: [manifests.houseprice] });
    let logger2: Awaited<ReturnType<typeof startLogger>> | undefined;
    try {
      let ok = 0;
      const load = (async () => {
        for (let i = 0; i < 60; i++) {
          const r = await post(`${site.url}/infer`, houseRecords([houseRef.rows[i % 20]!]), { "Content-Type": PANDAS });
          if (r.status === 200) ok++;
        }
      })();
      await sleep(100);
      await site.logger!.stop();
      assert.equal((await logs(site.url)).status, 503, "no logger: /logs says so");
      await sleep(100);
      logger2 = await startLogger({ natsUrl: site.nats.url, logger: quiet });
      await load;
      assert.equal(ok, 60);
      await untilStored(site, 60);
      assert.equal(await storedCount(site.url), 60);
    } finally {
      await logger2?.stop();
      await site.stop();
    }
  });

  it("records survive a nats-server restart and a logger restart", async () => {
    const nats = await startTestNats();
    let server = nats as { url: string; stop(): Promise<void> };
    const logger1 = await startLogger({ natsUrl: nats.url, logger: quiet });
    const inferer = await startInferer({ natsUrl: nats.url, manifests: [manifests.houseprice], logger: quiet });
    try {
      const nc = await connect({ servers: nats.url });
      const hdr = headers();
      hdr.set("Content-Type", PANDAS);
      for (let i = 0; i < 12; i++) await nc.request("ferry.infer", houseRecords([houseRef.rows[i]!]), { timeout: 5000, headers: hdr });
      await nc.close();
      const deadline = Date.now() + 10_000;
      while (inferer.logStats().published < 12 && Date.now() < deadline) await sleep(50);
      await logger1.stop();
      await inferer.stop();
      await nats.kill();
      server = await startNatsServer({ dataDir: nats.dir, port: nats.port });
      const logger2 = await startLogger({ natsUrl: server.url, logger: quiet });
      const gateway = await startGateway({ natsUrl: server.url, port: 0, host: "127.0.0.1", logger: quiet });
      try {
        assert.equal(await storedCount(gateway.url), 12);
      } finally {
        await gateway.stop();
        await logger2.stop();
      }
    } finally {
      await server.stop();
      await nats.stop();
    }
  });

  it("a publish in flight when the nats-server dies is sent again on reconnect, not after its ack timeout", { timeout: 30_000 }, async () => {
    const nats = await startTestNats();
    let server: { stop(): Promise<void> } | undefined;
    const nc = await connect({ servers: nats.url, reconnectTimeWait: 100, maxReconnectAttempts: -1 });
    // A 10-minute ack timeout: only a resend on reconnect resolves the wait within the test's 30 s.
    const publisher = new LogPublisher(nc, { ackTimeoutMs: 600_000, retryDelayMs: 100 });
    try {
      const run = join(nats.dir, "run");
      const pid = Number(/\d+/.exec(readdirSync(run).find((n) => n.endsWith(".ports"))!)![0]);
      // Frozen, the server takes the publish into its socket buffer and never answers; then it dies.
      process.kill(pid, "SIGSTOP");
      const record = JSON.stringify({ in: { tensor: [424242] } });
      const acked = publisher.published(logSubject("houseprice", "p1"), [record]);
      await sleep(300);
      process.kill(pid, "SIGKILL");
      await nats.kill().catch(() => undefined);
      server = await startNatsServer({ dataDir: nats.dir, port: nats.port, syncInterval: "always" });
      await acked;
      const jsm = await jetstreamManager(nc);
      const last = await jsm.streams.getMessage(LogStream, { last_by_subj: logSubject("houseprice", "p1") });
      assert.equal(last?.string(), record);
      assert.ok(publisher.stats().retries >= 1, "sent again");
    } finally {
      publisher.close();
      await nc.close();
      await server?.stop();
      await nats.stop();
    }
  });

  it("bounds the store by size: the oldest records go first and the pruned count shows it", async () => {
    const site = await startTestSite({ manifests: [manifests.houseprice], assets: siteAssets(storageSettings({ logMaxBytes: 16 * 1024 })), inferer: { logPublisher: { flushMs: 1 } } });
    try {
      for (let i = 0; i < 10; i++) {
        await infer(site.url, houseRef.rows);
        await untilStored(site, 20 * (i + 1));
      }
      const stats = await site.logger!.stats();
      assert.ok(stats.bytes <= 16 * 1024, `${stats.bytes} bytes stored`);
      assert.ok(stats.prunedMessages > 0);
      assert.equal(stats.messages + stats.prunedMessages, 10, "one message per request's batch of 20 records");
      const kept = await storedCount(site.url);
      assert.ok(kept > 0 && kept < 200 && kept % 20 === 0, `${kept} records kept`);
      const latest = await logs(site.url, { page_size: 1 });
      assert.deepEqual(latest.records[0]!.in.tensor, houseRef.rows[19]);
    } finally {
      await site.stop();
    }
  });
});

describe("log queries over several pipelines", () => {
  let site: TestSite;
  before(async () => { site = await startTestSite({ manifests: [manifests.houseprice, manifests.bucketed, manifests.cv] }); });
  after(async () => { await site.stop(); });

  /**
   * Counts pull requests on FERRY_LOGS that the server ended with 408 Request Timeout: each is a fetch
   * that asked for more messages than there were and waited out its expiry (found by the fuzz test:
   * nats-server 2.9 overstates num_pending for filtered consumers, and /logs took 10 s).
   */
  async function expiredFetches(run: () => Promise<void>): Promise<{ pulls: number; expired: number }> {
    const watch = await connect({ servers: site.nats.url });
    const inboxes = new Set<string>();
    let expired = 0;
    watch.subscribe("$JS.API.CONSUMER.MSG.NEXT.FERRY_LOGS.>", { callback: (_e, m) => { if (m.reply) inboxes.add(m.reply); } });
    watch.subscribe("_INBOX.>", { callback: (_e, m) => { if (inboxes.has(m.subject) && m.headers?.code === 408) expired++; } });
    await watch.flush();
    try {
      await run();
      await sleep(6000); // longer than a fetch's expiry (5 s): any waiting fetch has ended by now
    } finally {
      await watch.close();
    }
    return { pulls: inboxes.size, expired };
  }

  it("reads each pipeline's records without waiting out a fetch", async () => {
    const rows = houseRef.rows;
    const house = rows.filter((_r, i) => i % 3 === 0);
    const bucketed = rows.length - house.length;
    for (let i = 0; i < rows.length; i++) {
      const r = await post(`${site.url}/pipelines/${i % 3 === 0 ? "edge-houseprice" : "edge-houseprice-bucketed"}`, houseRecords([rows[i]!]), { "Content-Type": PANDAS });
      assert.equal(r.status, 200);
    }
    const image = new Uint8Array(readFileSync(join(models, "data", "image_224x224.arrow")));
    for (let i = 0; i < 12; i++) {
      const r = await post(`${site.url}/pipelines/edge-cv-demo`, image, { "Content-Type": ARROW_FILE });
      assert.equal(r.status, 200);
      const h = await post(`${site.url}/pipelines/edge-houseprice-bucketed`, houseRecords([rows[i]!]), { "Content-Type": PANDAS });
      assert.equal(h.status, 200);
    }
    await untilStored(site, rows.length + 24);
    const seen = await expiredFetches(async () => {
      const all = await logs(site.url);
      assert.equal(all.records.length, rows.length + 24);
      const first = await logs(site.url, { pipeline: "edge-houseprice" });
      assert.deepEqual(first.records.map((r) => r.in.tensor), house);
      assert.deepEqual((await logs(site.url, { pipeline: "edge-houseprice", start_time: 0 })).records.map((r) => r.in.tensor), house);
      assert.equal((await logs(site.url, { pipeline: "edge-houseprice-bucketed", order: "desc", page_size: 5 })).records.length, 5);
      assert.deepEqual((await allPages(site.url, { pipeline: "edge-houseprice", start_time: 0, page_size: 3 })).map((r) => r.in.tensor), house);
      assert.equal((await allPages(site.url, { pipeline: "edge-houseprice-bucketed", start_time: 0, page_size: 4 })).length, bucketed + 12);
      assert.equal((await allPages(site.url, { pipeline: "edge-cv-demo", order: "desc", page_size: 5 })).length, 12);
      assert.equal((await logs(site.url, { pipeline: "no-such-pipeline", start_time: 0 })).records.length, 0);
    });
    assert.ok(seen.pulls > 0, "the watcher saw the queries' fetches");
    assert.equal(seen.expired, 0, `${seen.expired} of ${seen.pulls} fetches waited out their expiry`);
  });
});

describe("a log query while JetStream is silent for a moment (a cluster electing a leader)", () => {
  const page: LogPage = { records: [], cursor: "c", status: "End" };
  const failing = (failures: number, err: () => Error): { calls: number; page(): Promise<LogPage> } => ({
    calls: 0,
    async page() {
      if (this.calls++ < failures) throw err();
      return page;
    },
  });

  it("tries again on no responders and timeouts, and answers the page", async () => {
    const silent = failing(2, () => new errors.NoRespondersError("$JS.API.STREAM.INFO.FERRY_LOGS"));
    assert.equal(await pageRetrying(silent, { order: "asc", pageSize: 1 } as never), page);
    assert.equal(silent.calls, 3);
    const slow = failing(1, () => new errors.TimeoutError());
    assert.equal(await pageRetrying(slow, { order: "asc", pageSize: 1 } as never), page);
    assert.equal(slow.calls, 2);
  });

  it("gives up after about 2 s of silence, and at once on any other error", async () => {
    const dead = failing(Number.POSITIVE_INFINITY, () => new errors.NoRespondersError("$JS.API.STREAM.INFO.FERRY_LOGS"));
    const t0 = Date.now();
    await assert.rejects(pageRetrying(dead, { order: "asc", pageSize: 1 } as never), errors.NoRespondersError);
    const took = Date.now() - t0;
    assert.ok(dead.calls >= 2 && dead.calls <= 11, `${dead.calls} tries in ${took} ms: it retried, then stopped`);
    const broken = failing(1, () => new TypeError("a bug"));
    await assert.rejects(pageRetrying(broken, { order: "asc", pageSize: 1 } as never), TypeError);
    assert.equal(broken.calls, 1, "a fault of the logger's own is not retried");
  });
});
