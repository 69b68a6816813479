import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { headers } from "@nats-io/transport-node";
import { Headers, inferSubject } from "@ferry/contracts";
import { start as startGateway, type Gateway } from "@ferry/gateway";
import { start as startInferer, type Inferer } from "@ferry/inferer";
import { houseRef, manifests } from "./helpers/paths.js";
import { matching, scrape, total } from "./helpers/prom-text.js";
import { PANDAS, houseRecords, post, quiet, startTestSite, type TestSite } from "./helpers/site.js";

const HOUSE = "edge-houseprice";
const HOUSE_MODEL = "house-price-estimator";

describe("GET /metrics", () => {
  let site: TestSite;
  let second: Inferer;
  before(async () => {
    site = await startTestSite();
    second = await startInferer({ natsUrl: site.nats.url, manifests: [manifests.houseprice], logger: quiet, watch: false, durable: false, partition: "test-site" });
  });
  after(async () => {
    await second.stop();
    await site.stop();
  });

  const infer = async (path: string, rows: number[][]): Promise<number> =>
    (await post(`${site.url}${path}`, houseRecords(rows), { "Content-Type": PANDAS })).status;

  it("counts the gateway's inference requests per pipeline and status, exactly", async () => {
    const label = (pipeline: string, code: string) => ({ service: "gateway", pipeline, code });
    const before = (await scrape(site.url)).samples;
    for (let i = 0; i < 5; i++) assert.equal(await infer(`/pipelines/${HOUSE}`, [houseRef.rows[i]!]), 200);
    for (let i = 0; i < 3; i++) assert.equal(await infer("/infer", [houseRef.rows[i]!]), 200);
    assert.equal(await infer("/pipelines/no-such-pipeline", [houseRef.rows[0]!]), 404);
    const now = (await scrape(site.url)).samples;
    const grew = (name: string, labels: Record<string, string>): number => total(now, name, labels) - total(before, name, labels);
    assert.equal(grew("ferry_gateway_requests_total", label(HOUSE, "200")), 5);
    assert.equal(grew("ferry_gateway_requests_total", label("current", "200")), 3);
    assert.equal(grew("ferry_gateway_requests_total", label("(unknown)", "404")), 1);
    assert.equal(grew("ferry_gateway_request_duration_seconds_count", label(HOUSE, "200")), 5);
    // GET /metrics itself is no inference request.
    assert.equal(matching(now, "ferry_gateway_requests_total").length, 3);
  });

  it("observes every inferer's step times and batch sizes", async () => {
    const step = { service: "inferer", pipeline: HOUSE, model: HOUSE_MODEL };
    const run = { service: "inferer", pipeline: HOUSE };
    const before = (await scrape(site.url)).samples;
    for (let i = 0; i < 4; i++) assert.equal(await infer(`/pipelines/${HOUSE}`, houseRef.rows.slice(0, 3)), 200);
    const now = (await scrape(site.url)).samples;
    const grew = (name: string, labels: Record<string, string>): number => total(now, name, labels) - total(before, name, labels);
    // One run per request (sent one after the other: nothing to merge), whichever inferer took it.
    assert.equal(grew("ferry_inferer_step_duration_seconds_count", step), 4);
    assert.equal(grew("ferry_inferer_batch_rows_count", run), 4);
    assert.equal(grew("ferry_inferer_batch_rows_sum", run), 12);
    assert.equal(grew("ferry_inferer_batch_requests_sum", run), 4);
    assert.equal(grew("ferry_inferer_requests_total", run), 4);
    assert.ok(grew("ferry_inferer_runs_total", { service: "inferer" }) >= 4);
  });

  it("labels every sample with its service and instance, so two inferers never collide", async () => {
    const { text, samples } = await scrape(site.url);
    for (const s of samples) assert.ok(s.labels.service && s.labels.instance, `unlabelled sample ${s.name}`);
    // One HELP and TYPE per family, whatever the number of instances (the text format allows no more).
    const helps = text.split("\n").filter((l) => l.startsWith("# HELP "));
    assert.equal(new Set(helps).size, helps.length);
    assert.ok(helps.every((l) => /^# HELP ferry_\w+ \S/.test(l)), "every metric is ferry_* with HELP text");
    const connected = matching(samples, "ferry_nats_connected");
    assert.deepEqual(new Set(connected.map((s) => s.labels.service)), new Set(["gateway", "inferer", "logger"]));
    assert.ok(connected.every((s) => s.value === 1));
    const inferers = new Set(matching(samples, "ferry_nats_connected", { service: "inferer" }).map((s) => s.labels.instance));
    assert.deepEqual(inferers, new Set([site.inferer!.id, second.id]));
    const step = matching(samples, "ferry_inferer_step_duration_seconds_count", { pipeline: HOUSE, model: HOUSE_MODEL });
    assert.equal(new Set(step.map((s) => s.labels.instance)).size, step.length);
  });

  it("counts the logger's queries and shows what its stream holds", async () => {
    const before = (await scrape(site.url)).samples;
    const res = await fetch(`${site.url}/logs`, { method: "POST", body: "{}", headers: { "Content-Type": "application/json" } });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    const now = (await scrape(site.url)).samples;
    assert.equal(total(now, "ferry_logger_queries_total", { code: "200" }) - total(before, "ferry_logger_queries_total", { code: "200" }), 1);
    assert.equal(matching(now, "ferry_logger_stored_messages", { service: "logger" }).length, 1);
    assert.equal(matching(now, "ferry_logger_pruned_messages_total", { service: "logger" }).length, 1);
  });

  it("counts the messages an inferer answered per endpoint, devices' NATS requests included", async () => {
    const before = (await scrape(site.url)).samples;
    const h = headers();
    h.set(Headers.contentType, PANDAS);
    for (let i = 0; i < 2; i++) await site.client.request(inferSubject(HOUSE), houseRecords([houseRef.rows[i]!]), { timeout: 10_000, headers: h });
    const now = (await scrape(site.url)).samples;
    const labels = { service: "inferer", pipeline: HOUSE };
    assert.equal(total(now, "ferry_inferer_messages_total", labels) - total(before, "ferry_inferer_messages_total", labels), 2);
  });

  describe("a gateway that sheds load", () => {
    let shedding: Gateway;
    before(async () => {
      shedding = await startGateway({ natsUrl: site.nats.url, port: 0, host: "127.0.0.1", logger: quiet, maxPending: 0 });
    });
    after(async () => { await shedding.stop(); });

    it("counts the requests it refused with 503 overloaded", async () => {
      for (let i = 0; i < 2; i++) {
        const r = await post(`${shedding.url}/infer`, houseRecords([houseRef.rows[0]!]), { "Content-Type": PANDAS });
        assert.equal(r.status, 503);
      }
      const { samples } = await scrape(shedding.url);
      const own = matching(samples, "ferry_gateway_shed_requests_total");
      assert.equal(own.length, 1, "only the scraped gateway's own metrics, no other gateway's");
      assert.equal(own[0]!.value, 2);
      assert.equal(total(samples, "ferry_gateway_requests_total", { pipeline: "current", code: "503" }), 2);
    });
  });
});
