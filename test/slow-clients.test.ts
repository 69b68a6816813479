import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { houseRef, manifests } from "./helpers/paths.js";
import { parseResponse, postHead, rawClient, type RawClient } from "./helpers/raw-http.js";
import { PANDAS, houseRecords, post, startTestSite, type TestSite } from "./helpers/site.js";

const PARTIAL = 4100;
/** Below PARTIAL, so that partial requests holding slots (as they did) would lock the site out at once. */
const MAX_PENDING = 1000;

/** Opens `n` connections that send a request's headers and the first byte of its body, then nothing. */
async function partialRequests(url: string, n: number, body: string): Promise<RawClient[]> {
  const out: RawClient[] = [];
  // In waves: a burst of thousands of SYNs would overflow the listen backlog.
  for (let at = 0; at < n; at += 200) {
    const wave = Math.min(200, n - at);
    out.push(...await Promise.all(Array.from({ length: wave }, () => rawClient(url, postHead("/infer", body.length) + body[0]))));
  }
  opened.push(...out);
  return out;
}

/** A client that sends one byte of its body every `everyMs` until the server closes the connection. */
async function trickle(url: string, body: string, everyMs: number): Promise<RawClient & { sent(): number }> {
  const c = await rawClient(url, postHead("/infer", body.length));
  opened.push(c);
  let sent = 0;
  void (async () => {
    while (!c.isClosed() && sent < body.length) {
      c.socket.write(body[sent++]!);
      await sleep(everyMs);
    }
  })();
  return { ...c, sent: () => sent };
}

/** Every raw connection opened, closed after the tests whatever happened. */
const opened: RawClient[] = [];

const timedOut = (c: RawClient): boolean => {
  const r = parseResponse(c.received());
  return r?.status === 408 && (r.json as { code?: string } | undefined)?.code === "request_timeout";
};

describe("slow and partial clients cannot hold the site", () => {
  let site: TestSite;
  before(async () => {
    site = await startTestSite({ manifests: [manifests.houseprice], logger: false, gateway: { bodyTimeoutMs: 15_000, headersTimeoutMs: 5000, keepAliveTimeoutMs: 500, maxPending: MAX_PENDING } });
  });
  after(async () => {
    for (const c of opened) c.socket.destroy();
    await site.stop();
  });

  it(`${PARTIAL} partial bodies (max pending ${MAX_PENDING}) and slow trickles hold no admission slot: normal requests get 200, the timeouts close them with 408`, { timeout: 120_000 }, async () => {
    const body = houseRecords(houseRef.rows.slice(0, 1));
    const trickles = await Promise.all(Array.from({ length: 3 }, () => trickle(site.url, body, 250)));
    const partial = await partialRequests(site.url, PARTIAL, body);
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await post(`${site.url}/infer`, body, { "Content-Type": PANDAS })).status);
    const stillOpen = partial.filter((c) => !c.isClosed()).length;
    assert.equal(statuses.filter((s) => s === 200).length, 20, `normal requests: ${JSON.stringify(statuses)}`);
    assert.ok(stillOpen > MAX_PENDING, `the normal requests were answered while more partial requests than --max-pending were held (${stillOpen} still open)`);
    assert.ok(trickles.every((t) => !t.isClosed()), "...and while the trickles were still sending");
    await Promise.all([...partial, ...trickles].map((c) => c.closed));
    assert.equal(partial.filter(timedOut).length, PARTIAL, "every partial request got 408 request_timeout before its connection was closed");
    assert.ok(trickles.every(timedOut), "so did the trickles");
    assert.ok(trickles.every((t) => t.sent() < body.length), "the server cut the trickles off before their body was complete");
    assert.equal((await post(`${site.url}/infer`, body, { "Content-Type": PANDAS })).status, 200);
  });

  it("a slow but complete upload within --body-timeout is answered", { timeout: 60_000 }, async () => {
    const body = houseRecords(Array.from({ length: 2000 }, (_, i) => houseRef.rows[i % houseRef.rows.length]!));
    const c = await rawClient(site.url, postHead("/infer", body.length));
    const chunks = 10;
    for (let k = 0; k < chunks; k++) {
      c.socket.write(body.slice(Math.floor((k * body.length) / chunks), Math.floor(((k + 1) * body.length) / chunks)));
      await sleep(200);
    }
    while (!parseResponse(c.received())?.json && !c.isClosed()) await sleep(50);
    c.socket.destroy();
    const r = parseResponse(c.received());
    assert.equal(r?.status, 200, c.received().slice(0, 300));
    assert.equal((r.json as unknown[]).length, 2000);
  });

  it("closes an idle keep-alive connection after --keep-alive-timeout", { timeout: 30_000 }, async () => {
    const c = await rawClient(site.url, "GET /health HTTP/1.1\r\nHost: ferry\r\n\r\n");
    await c.closed;
    assert.equal(parseResponse(c.received())?.status, 200);
  });
});
