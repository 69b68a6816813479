import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it, type TestContext } from "node:test";
import Fastify from "fastify";
import { Value } from "@sinclair/typebox/value";
import type { Browser, Page } from "playwright-core";
import { DashboardStatsSchema, Subjects, type DashboardStats, type HeartbeatReply } from "@ferry/contracts";
import { DASHBOARD_CSP, defaultDashboardDist, registerDashboard, start as startGateway } from "@ferry/gateway";
import { start as startLink, type LinkService } from "@ferry/link";
import { browserSkip, launchChromium, watchedPage, type WatchedPage } from "./helpers/browser.js";
import { houseRef, manifests, root } from "./helpers/paths.js";
import { PANDAS, houseRecords, post, quiet, startTestSite, until, type TestSite } from "./helpers/site.js";

const HOUSE = "edge-houseprice";
/** First values of the rows this test sends (exact in float32, so they come back from the log as written). */
const TRAFFIC_MARK = 4.375;
const LAST_MARK = 5.125;
/** Where the screenshot goes (test/dist is build output, ignored by git). */
const SCREENSHOT = join(root, "test", "dist", "ui-screenshot.png");

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A house-price row whose first value is `mark`, so its log record can be recognised on the page. */
function markedRow(mark: number): number[] {
  const row = [...houseRef.rows[0]!];
  row[0] = mark;
  return row;
}

async function inferMarked(url: string, mark: number): Promise<void> {
  const r = await post(`${url}/pipelines/${HOUSE}`, houseRecords([markedRow(mark)]), { "Content-Type": PANDAS });
  assert.equal(r.status, 200, JSON.stringify(r.json));
}

/** House-price requests one after another (with a short pause) until stopped: live traffic for the chart. */
function startTraffic(url: string): { stop(): Promise<number> } {
  let running = true;
  let sent = 0;
  let failure: unknown;
  const done = (async () => {
    while (running) {
      await inferMarked(url, TRAFFIC_MARK);
      sent++;
      await sleep(20);
    }
  })().catch((err: unknown) => { failure = err; });
  return {
    stop: async () => {
      running = false;
      await done;
      if (failure) throw failure;
      return sent;
    },
  };
}

const text = async (page: Page, testId: string): Promise<string> => (await page.getByTestId(testId).first().textContent()) ?? "";

/** The cells of each row of a table, by test id. */
async function rowsOf(page: Page, rowId: string, cellIds: readonly string[]): Promise<Record<string, string>[]> {
  const out: Record<string, string>[] = [];
  for (const row of await page.getByTestId(rowId).all()) {
    const cells: Record<string, string> = {};
    for (const id of cellIds) cells[id] = (await row.getByTestId(id).textContent()) ?? "";
    out.push(cells);
  }
  return out;
}

/**
 * Distinct pixel rows of the chart's canvas that hold the requests/s line's colour (#2563eb). A flat line at
 * zero covers two or three; a line that rises with traffic covers many.
 */
async function rpsLineHeight(page: Page): Promise<number> {
  // A string, so the test's tsconfig needs no DOM types.
  return page.evaluate(`(() => {
    const c = document.querySelector('[data-testid="traffic-chart"] canvas');
    if (!c) return 0;
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    const rows = new Set();
    for (let i = 0; i < d.length; i += 4) {
      if (d[i + 3] > 200 && Math.abs(d[i] - 0x25) < 40 && Math.abs(d[i + 1] - 0x63) < 40 && Math.abs(d[i + 2] - 0xeb) < 40) rows.add(Math.floor(i / 4 / c.width));
    }
    return rows.size;
  })()`);
}

/** Every request the page made went to the gateway (or was a data: URL). */
function assertOnlyGateway(watched: WatchedPage, url: string): void {
  assert.ok(watched.requests.length > 5, `the page made only ${watched.requests.length} requests`);
  const elsewhere = watched.requests.filter((r) => !r.startsWith(`${url}/`) && !r.startsWith("data:"));
  assert.deepEqual(elsewhere, [], "the page requested something from elsewhere");
}

describe("site dashboard at /ui", { skip: browserSkip() }, () => {
  let site: TestSite;
  let browser: Browser;
  let watched: WatchedPage;
  let page: Page;
  let link: LinkService | undefined;
  let traffic: { stop(): Promise<number> } | undefined;

  before(async () => {
    site = await startTestSite();
    browser = await launchChromium();
    watched = await watchedPage(browser);
    page = watched.page;
  });
  after(async () => {
    await traffic?.stop().catch(() => undefined);
    await browser?.close();
    await link?.stop();
    await site?.stop();
  });

  it("/ui and /ui/ serve the built page with a self-only CSP; its assets come from the gateway", async () => {
    assert.equal(defaultDashboardDist(), join(root, "ui", "dist"));
    for (const path of ["/ui", "/ui/"]) {
      const res = await fetch(`${site.url}${path}`);
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
      assert.equal(res.headers.get("content-security-policy"), DASHBOARD_CSP);
      assert.match(DASHBOARD_CSP, /default-src 'self'/);
      const html = await res.text();
      assert.match(html, /data-testid="pipelines-table"/);
      const refs = [...html.matchAll(/\b(?:src|href)\s*=\s*["']([^"']+)["']/g)].map((m) => m[1]!).filter((r) => !r.startsWith("data:"));
      assert.ok(refs.length >= 2, html);
      for (const ref of refs) {
        assert.match(ref, /^\/ui\/assets\//, `asset outside the gateway: ${ref}`);
        const asset = await fetch(`${site.url}${ref}`);
        assert.equal(asset.status, 200, ref);
        assert.doesNotMatch(await asset.text(), /https?:\/\/(?!www\.w3\.org\/)/, `${ref} names a remote URL`);
      }
    }
    // Unknown assets, and names that try to leave the assets folder, are not found.
    for (const ref of ["/ui/assets/nope.js", "/ui/assets/..%2Findex.html", "/ui/assets/..%2F..%2Fpackage.json", "/ui/assets/.hidden"]) {
      const missing = await fetch(`${site.url}${ref}`);
      assert.equal(missing.status, 404, ref);
      assert.equal(((await missing.json()) as { code: string }).code, "not_found", ref);
    }
  });

  it("/ui/stats counts the gateway's inference requests per second", async () => {
    for (let i = 0; i < 3; i++) await inferMarked(site.url, TRAFFIC_MARK);
    const stats = (await (await fetch(`${site.url}/ui/stats`)).json()) as DashboardStats;
    assert.ok(Value.Check(DashboardStatsSchema, stats), [...Value.Errors(DashboardStatsSchema, stats)].map((e) => `${e.path}: ${e.message}`).join("; "));
    assert.equal(stats.total.requests, 3);
    assert.equal(stats.total.errors, 0);
    assert.equal(stats.seconds.length, 60);
    assert.ok(stats.nats.out_msgs > 0);
    // A 404 for an unknown pipeline counts as an error; other routes do not count.
    assert.equal((await post(`${site.url}/pipelines/no-such-pipeline`, "[]", { "Content-Type": PANDAS })).status, 404);
    await fetch(`${site.url}/pipelines`);
    const later = (await (await fetch(`${site.url}/ui/stats`)).json()) as DashboardStats;
    assert.deepEqual([later.total.requests, later.total.errors], [4, 1]);
  });

  it("headless Chromium shows pipelines, models, live traffic and the latest log records", async (t: TestContext) => {
    traffic = startTraffic(site.url);
    await page.goto(`${site.url}/ui/`);
    assert.equal(await page.title(), "Ferry site dashboard");

    // Pipelines: what GET /pipelines says, as a user reads it.
    const api = ((await (await fetch(`${site.url}/pipelines`)).json()) as { pipelines: { id: string; status: string; version?: string }[] }).pipelines;
    assert.equal(api.length, 3);
    await until("the pipelines table", async () => (await page.getByTestId("pipeline-row").count()) === api.length);
    const pipelines = await rowsOf(page, "pipeline-row", ["pipeline-name", "pipeline-status", "pipeline-version"]);
    for (const p of api) {
      assert.deepEqual(pipelines.find((r) => r["pipeline-name"] === p.id), { "pipeline-name": p.id, "pipeline-status": "Running", "pipeline-version": p.version });
    }
    assert.ok(pipelines.some((r) => r["pipeline-name"] === HOUSE && r["pipeline-version"] === "3a8f63bc-a91e-40bd-947f-da19ed849063"));

    // Models: name, status, version and the start of the sha256.
    const models = ((await (await fetch(`${site.url}/models`)).json()) as { models: { name: string; sha: string; status: string; version: string }[] }).models;
    assert.ok(models.length >= 2);
    await until("the models table", async () => (await page.getByTestId("model-row").count()) === models.length);
    const shown = await rowsOf(page, "model-row", ["model-name", "model-status", "model-version", "model-sha"]);
    for (const m of models) {
      assert.deepEqual(shown.find((r) => r["model-name"] === m.name && r["model-version"] === m.version),
        { "model-name": m.name, "model-status": "Running", "model-version": m.version, "model-sha": m.sha.slice(0, 12) });
    }
    assert.ok(shown.some((r) => r["model-name"] === "house-price-estimator"));

    // Traffic: the figures move and the chart's requests/s line rises off zero while requests flow.
    await until("requests/s above zero", async () => Number(await text(page, "rps")) > 0);
    assert.match(await text(page, "latency-p50"), /^\d+(\.\d+)? (µs|ms)$/);
    assert.match(await text(page, "latency-p99"), /^\d+(\.\d+)? (µs|ms)$/);
    assert.ok(Number(await text(page, "total-requests")) > 4);
    assert.equal(await text(page, "gateways"), "1");
    await until("the chart draws the traffic", async () => (await rpsLineHeight(page)) > 10);
    assert.ok(Number(await page.getByTestId("traffic-chart").getAttribute("data-busy-seconds")) >= 1);

    // Ops link: a site that never joined.
    assert.equal(await page.getByTestId("link-state").getAttribute("data-state"), "standalone");
    assert.match(await text(page, "link-state"), /not joined/);

    // Latest log records: this test's records, newest first, named by pipeline.
    await until("log records of the traffic", async () => (await text(page, "log-in")).includes(String(TRAFFIC_MARK)));
    const sent = await traffic.stop();
    traffic = undefined;
    assert.ok(sent > 0);
    await inferMarked(site.url, LAST_MARK);
    await until("the newest record first", async () => (await text(page, "log-in")).includes(String(LAST_MARK)));
    const logs = await rowsOf(page, "log-row", ["log-time", "log-pipeline", "log-in", "log-out"]);
    assert.equal(logs.length, 20);
    assert.equal(logs[0]!["log-pipeline"], HOUSE);
    assert.match(logs[0]!["log-in"]!, /^\{"tensor":\[5\.125,/);
    assert.match(logs[0]!["log-out"]!, /^\{"[^"]+":\[\d/);
    assert.match(logs[0]!["log-time"]!, /^\d\d:\d\d:\d\d$/);
    for (const l of logs.slice(1)) assert.match(l["log-in"]!, /^\{"tensor":\[4\.375,/);
    for (const id of ["pipelines-error", "models-error", "logs-error", "traffic-error"]) assert.equal(await page.getByTestId(id).isHidden(), true, id);

    const png = await page.screenshot({ path: SCREENSHOT, fullPage: true });
    const file = await readFile(SCREENSHOT);
    assert.ok(file.length > 10_000 && file.equals(png), `screenshot of ${file.length} bytes`);
    assert.deepEqual([...file.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], "not a PNG");
    t.diagnostic(`screenshot: ${SCREENSHOT}`);
    console.log(`dashboard screenshot: ${SCREENSHOT}`);
  });

  it("shows a joined site's link: disconnected while the hub is away, connected once it answers", async () => {
    link = await startLink({ natsUrl: site.nats.url, edge: "shop-7", pipeline: HOUSE, heartbeatMs: 100, heartbeatTimeoutMs: 300, logger: quiet });
    await until("link down", async () => (await page.getByTestId("link-state").getAttribute("data-state")) === "down");
    assert.match(await text(page, "link-state"), /^Ops link: disconnected as edge shop-7/);
    // A heartbeat responder on the site's own server stands in for the hub across a leaf link (as in health.test.ts).
    const hub = site.client.subscribe(`${Subjects.heartbeatPrefix}shop-7`, {
      callback: (_e, m) => { m.respond(JSON.stringify({ ok: true } satisfies HeartbeatReply)); },
    });
    try {
      await until("link up", async () => (await page.getByTestId("link-state").getAttribute("data-state")) === "up");
      assert.match(await text(page, "link-state"), /^Ops link: connected as edge shop-7/);
    } finally {
      hub.unsubscribe();
    }
  });

  it("the page asked nothing of anyone but the gateway and logged no errors", () => {
    assertOnlyGateway(watched, site.url);
    assert.deepEqual(watched.errors, []);
  });
});

describe("site dashboard without a logger", { skip: browserSkip() }, () => {
  let site: TestSite;
  let browser: Browser;

  before(async () => {
    site = await startTestSite({ logger: false });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await site?.stop();
  });

  it("says the log records are unavailable and keeps showing the rest", async () => {
    const watched = await watchedPage(browser);
    const page = watched.page;
    await page.goto(`${site.url}/ui`);
    await until("the logs panel's error", async () => await page.getByTestId("logs-error").isVisible());
    assert.match(await text(page, "logs-error"), /logger service is not running.*503 logs_unavailable/);
    await until("the pipelines table", async () => (await page.getByTestId("pipeline-row").count()) === 3);
    assert.equal(await page.getByTestId("pipelines-error").isHidden(), true);
    assert.match(await text(page, "updated-at"), /1 of 5 calls failed/);
    assertOnlyGateway(watched, site.url);
    // The browser reports the 503 of /logs itself; nothing else may go wrong.
    assert.deepEqual(watched.errors.filter((e) => !/status of 503.*\/logs\)$/.test(e)), []);
  });
});

describe("site dashboard not built", () => {
  it("/ui answers 503 unavailable saying how to build it; /ui/stats still works", async () => {
    const site = await startTestSite({ manifests: [], logger: false });
    const dir = await mkdtemp(join(tmpdir(), "ferry-ui-"));
    const app = Fastify();
    try {
      registerDashboard(app, site.client, { distDir: join(dir, "dist") });
      for (const url of ["/ui", "/ui/", "/ui/assets/index.js"]) {
        const res = await app.inject({ method: "GET", url });
        assert.equal(res.statusCode, 503, url);
        assert.match(res.headers["content-type"] as string, /^application\/json/);
        const body = res.json<{ error: string; code: string }>();
        assert.equal(body.code, "unavailable");
        assert.match(body.error, /run npm run build/);
        assert.equal(res.headers["content-security-policy"], DASHBOARD_CSP);
      }
      const stats = await app.inject({ method: "GET", url: "/ui/stats" });
      assert.equal(stats.statusCode, 200);
      assert.ok(Value.Check(DashboardStatsSchema, stats.json()));
    } finally {
      await app.close();
      await rm(dir, { recursive: true, force: true });
      await site.stop();
    }
  });
});

describe("/ui/stats sums every gateway of the site", () => {
  it("two gateways on one NATS server: each reports both gateways' requests, per second and in total", async () => {
    const site = await startTestSite({ manifests: [manifests.houseprice], logger: false });
    const second = await startGateway({ natsUrl: site.nats.url, port: 0, host: "127.0.0.1", logger: quiet });
    try {
      const body = houseRecords(houseRef.rows.slice(0, 1));
      for (let i = 0; i < 2; i++) assert.equal((await post(`${site.url}/pipelines/edge-houseprice`, body, { "Content-Type": PANDAS })).status, 200);
      for (let i = 0; i < 3; i++) assert.equal((await post(`${second.url}/pipelines/edge-houseprice`, body, { "Content-Type": PANDAS })).status, 200);
      assert.equal((await post(`${second.url}/pipelines/no-such-pipeline`, body, { "Content-Type": PANDAS })).status, 404);
      for (const url of [site.url, second.url]) {
        let stats: DashboardStats | undefined;
        // The requests' second must end before it is reported.
        await until(`${url}/ui/stats with every request in its seconds`, async () => {
          stats = (await (await fetch(`${url}/ui/stats`)).json()) as DashboardStats;
          return stats.seconds.reduce((n, s) => n + s.requests, 0) === 6;
        });
        assert.ok(Value.Check(DashboardStatsSchema, stats));
        assert.equal(stats!.gateways, 2, url);
        assert.deepEqual([stats!.total.requests, stats!.total.errors], [6, 1], url);
        assert.equal(stats!.seconds.reduce((n, s) => n + s.errors, 0), 1);
        assert.ok(stats!.seconds.some((s) => s.requests > 0 && s.p50_ms !== null && s.p99_ms !== null));
      }
    } finally {
      await second.stop();
      await site.stop();
    }
  });
});
