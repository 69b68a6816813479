import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { houseRef, manifests, models } from "./helpers/paths.js";
import { ARROW_FILE, PANDAS, houseRecords, post, startTestSite, type TestSite } from "./helpers/site.js";

/** The process's resident memory (VmRSS), bytes: the site's services run in this process. */
function rssBytes(): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
  return Number(m![1]) * 1024;
}

/** Samples the RSS until stopped; returns the peak. */
function rssPeak(): () => number {
  let peak = rssBytes();
  const timer = setInterval(() => { peak = Math.max(peak, rssBytes()); }, 50);
  return () => {
    clearInterval(timer);
    return Math.max(peak, rssBytes());
  };
}

/** The documented bound (docs/operations.md, "Hostile bodies") on the whole site in one process. */
const RSS_BOUND = 1024 * 1024 * 1024;

const house = new Uint8Array(readFileSync(join(models, "data", "houseprice.arrow")));
/**
 * houseprice.arrow (3,322 bytes) with one bit flipped: bytes 82–83 are in the record batch's length
 * (millions of rows claimed), byte 95 in a buffer description that sends arrow-js into seconds of work and
 * a gigabyte of memory. Found by flipping every bit of the file (all others decode or fail in ms).
 */
const hostileArrow = [[83, 0], [83, 1], [95, 0], [95, 1], [95, 2], [95, 3]].map(([byte, bit]) => {
  const b = new Uint8Array(house);
  b[byte!]! ^= 1 << bit!;
  return b;
});

type Outcome = { kind: string; status: number; code?: string };

async function send(url: string, kind: string, body: string | Uint8Array, type: string, order: Outcome[]): Promise<Outcome> {
  const r = await post(url, body, { "Content-Type": type });
  const o = { kind, status: r.status, ...(r.status >= 400 ? { code: (r.json as { code: string }).code } : {}) };
  order.push(o);
  return o;
}

describe("hostile bodies delay no one else's request", () => {
  let site: TestSite;
  before(async () => {
    site = await startTestSite({ manifests: [manifests.houseprice], logger: false, inferer: { arrowDecodeThreads: 2, arrowDecodeTimeoutMs: 3000 } });
  });
  after(async () => { await site.stop(); });

  it("six hostile Arrow bodies at once: each gets 400 bad_arrow, normal requests sent meanwhile get 200 before the hostile ones are all refused", { timeout: 120_000 }, async (t) => {
    const peak = rssPeak();
    const order: Outcome[] = [];
    const url = `${site.url}/infer`;
    const hostile = hostileArrow.map((b) => send(url, "hostile", b, ARROW_FILE, order));
    const json = houseRecords(houseRef.rows.slice(0, 2));
    const normal: Outcome[] = [];
    for (let i = 0; i < 10; i++) normal.push(await send(url, "json", json, PANDAS, order));
    const arrow = await Promise.all(Array.from({ length: 3 }, () => send(url, "arrow", house, ARROW_FILE, order)));
    const refused = await Promise.all(hostile);
    const maxRss = peak();
    t.diagnostic(`peak RSS ${(maxRss / 2 ** 20).toFixed(0)} MiB; answered in order: ${order.map((o) => o.kind).join(" ")}`);
    assert.deepEqual(refused.map((o) => `${o.status} ${o.code}`), hostileArrow.map(() => "400 bad_arrow"));
    assert.equal(normal.filter((o) => o.status === 200).length, 10, JSON.stringify(normal));
    assert.ok(arrow.every((o) => o.status === 200), `good Arrow bodies sent meanwhile: ${JSON.stringify(arrow)}`);
    const lastJson = order.findLastIndex((o) => o.kind === "json");
    assert.ok(order.slice(lastJson).some((o) => o.kind === "hostile"), `every JSON request was answered while hostile bodies were still being refused: ${order.map((o) => o.kind).join(" ")}`);
    assert.ok(maxRss < RSS_BOUND, `peak RSS ${(maxRss / 2 ** 20).toFixed(0)} MiB`);
    assert.equal((await send(url, "after", house, ARROW_FILE, [])).status, 200, "the decoder still decodes");
  });

  it("a JSON row with 300,000 columns and a deeply nested one: answered, and so is everyone else", { timeout: 120_000 }, async () => {
    const url = `${site.url}/infer`;
    const wide = `[{"tensor":${JSON.stringify(houseRef.rows[0])}${Array.from({ length: 300_000 }, (_, k) => `,"k${k}":0`).join("")}}]`;
    const deep = `[{"tensor":${"[".repeat(100_000)}1${"]".repeat(100_000)}}]`;
    const order: Outcome[] = [];
    const hostile = [send(url, "wide", wide, PANDAS, order), send(url, "deep", deep, PANDAS, order)];
    const json = houseRecords(houseRef.rows.slice(0, 2));
    const normal = await Promise.all(Array.from({ length: 10 }, () => send(url, "json", json, PANDAS, order)));
    const [w, d] = await Promise.all(hostile);
    assert.equal(normal.filter((o) => o.status === 200).length, 10, JSON.stringify(normal));
    assert.equal(w!.status, 200, "extra columns are allowed (and left out of the log record)");
    assert.deepEqual([d!.status, d!.code], [400, "bad_records"]);
  });

  it("a V2 tensor whose data is nested 100,000 deep: 400 bad_tensor, and everyone else is answered", { timeout: 120_000 }, async () => {
    const deep = `{"inputs":[{"name":"tensor","datatype":"FP32","shape":[1,18],"data":${"[".repeat(100_000)}1${"]".repeat(100_000)}}]}`;
    const order: Outcome[] = [];
    const hostile = send(`${site.url}/v2/models/edge-houseprice/infer`, "deep", deep, "application/json", order);
    const json = houseRecords(houseRef.rows.slice(0, 2));
    const normal = await Promise.all(Array.from({ length: 10 }, () => send(`${site.url}/infer`, "json", json, PANDAS, order)));
    const d = await hostile;
    assert.equal(normal.filter((o) => o.status === 200).length, 10, JSON.stringify(normal));
    assert.deepEqual([d.status, d.code], [400, "bad_tensor"]);
  });
});
