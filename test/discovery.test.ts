import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Empty, headers } from "@nats-io/transport-node";
import { Headers, InfererQueue, Subjects, inferSubject } from "@ferry/contracts";
import { serviceIdToken, type ServiceInfo, type ServicePing, type ServiceStats } from "@ferry/runtime";
import { LoggerQueue } from "@ferry/logger";
import { houseRef } from "./helpers/paths.js";
import { PANDAS, houseRecords, startTestSite, type TestSite } from "./helpers/site.js";

const HOUSE = "edge-houseprice";

describe("NATS service discovery ($SRV, ADR-32)", () => {
  let site: TestSite;
  before(async () => { site = await startTestSite(); });
  after(async () => { await site.stop(); });

  /** Every reply to a discovery request (each instance answers). */
  const all = async <T>(subject: string): Promise<T[]> => {
    const out: T[] = [];
    for await (const m of await site.client.requestMany(subject, Empty, { strategy: "timer", maxWait: 300 })) out.push(m.json<T>());
    return out;
  };
  const one = async <T>(subject: string): Promise<T> => (await site.client.request(subject, Empty, { timeout: 5000 })).json<T>();
  const inferer = (): string => serviceIdToken(site.inferer!.id);

  it("$SRV.PING finds the inferer and the logger", async () => {
    const pings = await all<ServicePing>("$SRV.PING");
    assert.deepEqual(pings.map((p) => p.name).sort(), ["ferry-inferer", "ferry-logger"]);
    for (const p of pings) {
      assert.equal(p.type, "io.nats.micro.v1.ping_response");
      assert.match(p.version, /^\d+\.\d+\.\d+/);
      assert.match(p.id, /^[A-Za-z0-9_-]+$/);
    }
    const byId = await one<ServicePing>(`$SRV.PING.ferry-inferer.${inferer()}`);
    assert.deepEqual(byId, { type: "io.nats.micro.v1.ping_response", name: "ferry-inferer", id: inferer(), version: byId.version, metadata: { ferry_id: site.inferer!.id } });
  });

  it("$SRV.INFO lists one endpoint per inference subject, in the inferers' queue group", async () => {
    const info = await one<ServiceInfo>("$SRV.INFO.ferry-inferer");
    assert.equal(info.type, "io.nats.micro.v1.info_response");
    assert.equal(info.id, inferer());
    assert.deepEqual(info.endpoints.map((e) => e.subject).sort(), [Subjects.infer, ...["edge-cv-demo", "edge-houseprice", "edge-houseprice-bucketed"].map(inferSubject)].sort());
    assert.ok(info.endpoints.every((e) => e.queue_group === InfererQueue));
    assert.equal(info.endpoints.find((e) => e.subject === Subjects.infer)?.name, "current");
    const logger = await one<ServiceInfo>("$SRV.INFO.ferry-logger");
    assert.deepEqual(logger.endpoints, [{ name: "query", subject: Subjects.logsQuery, queue_group: LoggerQueue, metadata: null }]);
  });

  it("$SRV.STATS counts requests and errors per endpoint", async () => {
    const endpoint = async () => (await one<ServiceStats>(`$SRV.STATS.ferry-inferer.${inferer()}`)).endpoints.find((e) => e.subject === inferSubject(HOUSE))!;
    const before = await endpoint();
    const h = headers();
    h.set(Headers.contentType, PANDAS);
    for (let i = 0; i < 3; i++) {
      const ok = await site.client.request(inferSubject(HOUSE), houseRecords([houseRef.rows[i]!]), { timeout: 10_000, headers: h });
      assert.equal(ok.headers?.get(Headers.status), "200");
    }
    const bad = await site.client.request(inferSubject(HOUSE), "[{", { timeout: 10_000, headers: h });
    assert.equal(bad.headers?.get(Headers.status), "400");

    const stats = await one<ServiceStats>(`$SRV.STATS.ferry-inferer.${inferer()}`);
    assert.equal(stats.type, "io.nats.micro.v1.stats_response");
    assert.ok(!Number.isNaN(Date.parse(stats.started)));
    const now = await endpoint();
    assert.equal(now.num_requests - before.num_requests, 4);
    assert.equal(now.num_errors - before.num_errors, 1);
    assert.match(now.last_error, /^400 bad_json: /);
    assert.equal(typeof now.processing_time, "number");
    assert.equal(typeof now.average_processing_time, "number");
    assert.deepEqual(Object.keys(now.data as object).sort(), ["failed_requests", "requests"]);

    const logs = async () => (await one<ServiceStats>("$SRV.STATS.ferry-logger")).endpoints[0]!.num_requests;
    const queries = await logs();
    await site.client.request(Subjects.logsQuery, "{}", { timeout: 10_000 });
    assert.equal(await logs(), queries + 1);
  });
});
