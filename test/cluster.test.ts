import assert from "node:assert/strict";
import { after, before, describe, it, type TestContext } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { LogStream } from "@ferry/contracts";
import { start as startGateway, type Gateway } from "@ferry/gateway";
import { start as startInferer, type Inferer } from "@ferry/inferer";
import { start as startLogger, type LogService } from "@ferry/logger";
import { provision, siteAssets, storageSettings } from "@ferry/runtime";
import { houseRef, manifests } from "./helpers/paths.js";
import { PANDAS, houseRecords, quiet, until } from "./helpers/site.js";
import { isCaughtUp, leadTo, preferring, startTestCluster, streamCluster, type TestCluster } from "./helpers/cluster.js";

/** What one HTTP request of the load got: a status and error code, or `broken` (no HTTP answer, or not the JSON it should be). */
interface Outcome {
  status: number;
  code?: string;
  broken?: string;
  /** When it was sent and when it was answered (Date.now()). */
  sent: number;
  at: number;
}

/** Concurrent HTTP clients posting one house row each, in loops, until stopped. */
function startLoad(url: string, clients: number): { outcomes: Outcome[]; stop: () => Promise<void> } {
  const outcomes: Outcome[] = [];
  let running = true;
  const client = async (c: number): Promise<void> => {
    for (let i = c; running; i += clients) {
      const sent = Date.now();
      outcomes.push({ ...await inferOnce(url, houseRef.rows[i % houseRef.rows.length]!), sent });
    }
  };
  const all = Promise.all(Array.from({ length: clients }, (_, c) => client(c)));
  return { outcomes, stop: async () => { running = false; await all; } };
}

async function inferOnce(url: string, row: number[]): Promise<Omit<Outcome, "sent">> {
  try {
    // Far above the gateway's reply timeout: only a hang reaches it.
    const res = await fetch(`${url}/pipelines/edge-houseprice`, { method: "POST", body: houseRecords([row]), headers: { "Content-Type": PANDAS }, signal: AbortSignal.timeout(30_000) });
    const body = JSON.parse(await res.text()) as unknown;
    const at = Date.now();
    if (res.status === 200) return Array.isArray(body) && body.length === 1 ? { status: 200, at } : { status: 200, broken: "not one record", at };
    const code = (body as { code?: unknown }).code;
    return typeof code === "string" ? { status: res.status, code, at } : { status: res.status, broken: "error without a code", at };
  } catch (err) {
    return { status: 0, broken: (err as Error).message, at: Date.now() };
  }
}

/**
 * Records in FERRY_LOGS (each stream message holds a batch, one JSON per line), read message by message
 * from the stream leader. Not through a consumer: nats-server 2.9 may place an ephemeral consumer on
 * a peer that died seconds ago (it still counts as current), and creating it then times out.
 */
async function storedRecords(jsm: JetStreamManager): Promise<number> {
  // Seconds after a server died the stream may still be settling its leader: JetStream then answers
  // 503 "JetStream system temporarily unavailable". The records are what is checked, so read again.
  for (let attempt = 1; ; attempt++) {
    try {
      return await readStoredRecords(jsm);
    } catch (err) {
      if (attempt >= 40 || !/temporarily unavailable/i.test((err as Error).message)) throw err;
      await sleep(250);
    }
  }
}

async function readStoredRecords(jsm: JetStreamManager): Promise<number> {
  const { first_seq: first, last_seq: last, messages } = (await jsm.streams.info(LogStream)).state;
  let records = 0;
  for (let seq = first; messages > 0 && seq <= last; seq++) {
    const m = await jsm.streams.getMessage(LogStream, { seq });
    if (!m) continue;
    for (const b of m.data) if (b === 0x0a) records++;
    records++;
  }
  return records;
}

/** What a request caught by a failover may get: no inferer yet, no reply, or its gateway's server went away (it fails at once). */
const failoverCodes = new Set(["no_inferer", "inferer_timeout", "unavailable"]);

/**
 * Runs load, SIGKILLs server `victim` once 150 requests succeeded, and keeps the load going until 300
 * more succeeded and the check that `afterKill` makes (at the kill) holds: the dead server's clients
 * reconnected elsewhere.
 */
async function loadThroughKill(url: string, cluster: TestCluster, victim: number, afterKill: () => () => boolean): Promise<{ outcomes: Outcome[]; killedAt: number }> {
  const load = startLoad(url, 8);
  const ok = (since = 0): number => load.outcomes.filter((o) => o.status === 200 && !o.broken && o.at > since).length;
  try {
    await until("load before the kill", async () => ok() >= 150, 30_000);
    // Taken before the kill: a gateway whose server died fails its requests at once, maybe before kill() returns.
    const killedAt = Date.now();
    await cluster.kill(victim);
    const moved = afterKill();
    await until("load after the kill", async () => ok(killedAt) >= 300 && moved(), 30_000);
    return { outcomes: load.outcomes, killedAt };
  } finally {
    await load.stop();
  }
}

/** Counts by status and code, for the test's diagnostics. */
function summary(outcomes: readonly Outcome[]): string {
  const counts = new Map<string, number>();
  for (const o of outcomes) {
    const key = o.broken ? `broken` : o.code ? `${o.status} ${o.code}` : String(o.status);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${k}: ${n}`).join(", ");
}

/**
 * The load kept being answered: failures are clean 503/504 errors, none before the kill, few, and the
 * requests sent after the last failed one were all answered (a reply lost with the dead server shows
 * up as a 504 only after the gateway's timeout, so failures are ordered by when they were sent).
 */
function assertFailedOver(outcomes: readonly Outcome[], killedAt: number): void {
  const broken = outcomes.filter((o) => o.broken);
  assert.deepEqual(broken, [], "every request got a well-formed HTTP answer");
  const failed = outcomes.filter((o) => o.status !== 200);
  for (const f of failed) assert.ok((f.status === 503 || f.status === 504) && failoverCodes.has(f.code!), JSON.stringify(f));
  assert.ok(failed.every((f) => f.at >= killedAt), "nothing failed before the kill");
  assert.ok(failed.length * 10 <= outcomes.length, `${failed.length} of ${outcomes.length} failed`);
  const lastFailedSent = Math.max(0, ...failed.map((f) => f.sent));
  const later = outcomes.filter((o) => o.sent > lastFailedSent).length;
  assert.ok(later >= 100, `only ${later} requests were sent (and answered) after the last failed one`);
}

describe("a three-server cluster under load loses a server", () => {
  let cluster: TestCluster;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let logger: LogService;
  const inferers: Inferer[] = [];
  const infererNcs: NatsConnection[] = [];
  let gatewayNc: NatsConnection;
  let gateway: Gateway;
  const answered: Outcome[] = [];

  before(async () => {
    cluster = await startTestCluster(3);
    nc = await connect(preferring(cluster.urls, 1, "test"));
    jsm = await jetstreamManager(nc);
    // As `ferry start` does on a cluster, before any service runs.
    await provision(nc, siteAssets(storageSettings({ replicas: 3 })));
    logger = await startLogger({ nc: await connect(preferring(cluster.urls, 2, "logger")), logger: quiet });
    for (const first of [0, 1]) {
      infererNcs.push(await connect(preferring(cluster.urls, first, `inferer-${first}`)));
      inferers.push(await startInferer({ nc: infererNcs[first], manifests: [manifests.houseprice], logger: quiet, partition: "cluster", watch: false, durable: false }));
    }
    gatewayNc = await connect(preferring(cluster.urls, 2, "gateway"));
    // A reply lost with a dead server becomes a 504 after this, not after the default 15 s.
    gateway = await startGateway({ nc: gatewayNc, port: 0, host: "127.0.0.1", logger: quiet, pipelines: ["edge-houseprice"], timeoutMs: 3000 });
  });

  after(async () => {
    try {
      // A drain that cannot finish (a server gone) must not keep the servers below running.
      for (const s of [gateway, ...inferers, logger]) await Promise.race([s?.stop().catch(() => undefined), sleep(10_000, undefined, { ref: false })]);
      await nc?.close();
    } finally {
      await cluster?.stop();
    }
  });

  /** Every record the inferers had acknowledged by JetStream is in FERRY_LOGS, once; none was dropped before publishing. */
  async function assertLogsKept(t: TestContext): Promise<void> {
    await until("every log record acknowledged", async () => inferers.every((i) => i.logStats().buffered === 0), 30_000);
    const acked = inferers.reduce((n, i) => n + i.logStats().published, 0);
    const inferred = inferers.reduce((n, i) => n + i.stats().requests, 0);
    assert.equal(inferers.reduce((n, i) => n + i.logStats().overflow, 0), 0);
    assert.equal(acked, inferred, "one acknowledged record per inferred row, answered or not");
    const ok = answered.filter((o) => o.status === 200).length;
    assert.ok(acked >= ok && acked <= answered.length, `${acked} records for ${ok} answered of ${answered.length} requests`);
    const retries = inferers.reduce((n, i) => n + i.logStats().retries, 0);
    t.diagnostic(`${acked} records acknowledged (${retries} publishes retried), ${ok} of ${answered.length} requests answered`);
    assert.equal(await storedRecords(jsm), acked, "FERRY_LOGS holds each acknowledged record once");
  }

  it("an inferer's server dies: requests go on through the other inferer, and the first reconnects elsewhere", async (t) => {
    assert.equal(infererNcs[0]!.info?.server_name, cluster.names[0]);
    // The victim also leads FERRY_LOGS: its death must cost an election while records are being published.
    await leadTo(nc, jsm, LogStream, cluster.names[0]!);
    const { outcomes, killedAt } = await loadThroughKill(gateway.url, cluster, 0, () => {
      const served = inferers[0]!.stats().requests;
      return () => inferers[0]!.stats().requests > served + 20 && infererNcs[0]!.info?.server_name !== cluster.names[0];
    });
    answered.push(...outcomes);
    t.diagnostic(summary(outcomes));
    assertFailedOver(outcomes, killedAt);
  });

  it("FERRY_LOGS (3 replicas) lost no acknowledged record", assertLogsKept);

  it("/logs answers while a server is down", async (t) => {
    // A gateway that waits as long as the default (the one above gives up on inference after 3 s).
    const patient = await startGateway({ nc: await connect(preferring(cluster.urls, 1, "patient-gateway")), port: 0, host: "127.0.0.1", logger: quiet, pipelines: ["edge-houseprice"] });
    try {
      const took: number[] = [];
      for (let i = 0; i < 12; i++) {
        const t0 = Date.now();
        const res = await fetch(`${patient.url}/logs`, { method: "POST", body: JSON.stringify(i % 2 ? { page_size: 5 } : { start_time: 0, page_size: 5 }), headers: { "Content-Type": "application/json" } });
        const body = await res.text();
        assert.equal(res.status, 200, body);
        assert.equal((JSON.parse(body) as unknown[]).length, 5);
        took.push(Date.now() - t0);
      }
      t.diagnostic(`12 queries with ferry-0 down, ms: ${took.join(" ")}`);
    } finally {
      await patient.stop();
    }
  });

  it("the server comes back with its data and its FERRY_LOGS replica catches up", async () => {
    const stored = await storedRecords(jsm);
    // The check below must mean something: the leader no longer counts the dead peer as current.
    await until("ferry-0 counted as behind", async () => !isCaughtUp(await streamCluster(jsm, LogStream), cluster.names[0]!), 30_000);
    await cluster.restart(0);
    await until("ferry-0's replica caught up", async () => isCaughtUp(await streamCluster(jsm, LogStream), cluster.names[0]!), 30_000);
    // Only a replica with every committed entry can be elected: leading, it serves them all.
    await leadTo(nc, jsm, LogStream, cluster.names[0]!);
    const only = await connect({ servers: cluster.urls[0]!, noRandomize: true, ignoreClusterUpdates: true });
    try {
      assert.equal(await storedRecords(await jetstreamManager(only)), stored);
    } finally {
      await only.close();
    }
  });

  it("the gateway's (and logger's) server dies: the gateway reconnects and requests go on", async (t) => {
    await leadTo(nc, jsm, LogStream, cluster.names[2]!);
    const { outcomes, killedAt } = await loadThroughKill(gateway.url, cluster, 2, () => () => gatewayNc.info?.server_name !== cluster.names[2]);
    answered.push(...outcomes);
    t.diagnostic(summary(outcomes));
    assertFailedOver(outcomes, killedAt);
    await assertLogsKept(t);
    await cluster.restart(2);
    await until("ferry-2's replica caught up", async () => isCaughtUp(await streamCluster(jsm, LogStream), cluster.names[2]!), 30_000);
    // The logger failed over too. Right after the restart JetStream may still be moving a leader: such a
    // query is 503 logs_unavailable (retry), never a 500, and one soon succeeds.
    let answer: { status: number; body: string } | undefined;
    await until("a /logs query answered 200", async () => {
      const res = await fetch(`${gateway.url}/logs`, { method: "POST", body: JSON.stringify({ page_size: 1 }), headers: { "Content-Type": "application/json" } });
      answer = { status: res.status, body: await res.text() };
      assert.ok(answer.status === 200 || (answer.status === 503 && /logs_unavailable/.test(answer.body)), `${answer.status} ${answer.body}`);
      return answer.status === 200;
    }, 15_000);
    assert.equal((JSON.parse(answer!.body) as unknown[]).length, 1);
  });
});
