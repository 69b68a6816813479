import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Subjects, type HeartbeatReply } from "@ferry/contracts";
import type { Health } from "@ferry/gateway";
import { start as startLink, type LinkService } from "@ferry/link";
import { quiet, startTestSite, until, type TestSite } from "./helpers/site.js";

async function health(site: TestSite): Promise<{ status: number; body: Health }> {
  const res = await fetch(`${site.url}/health`);
  return { status: res.status, body: (await res.json()) as Health };
}

describe("GET /health", () => {
  let site: TestSite;
  let link: LinkService | undefined;

  before(async () => {
    site = await startTestSite({ manifests: [], logger: false });
  });
  after(async () => {
    await link?.stop();
    await site.stop();
  });

  it("a site that never joined a hub is standalone", async () => {
    const r = await health(site);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { status: "ok", nats: "connected", link: { joined: false, link: "standalone" } });
  });

  it("reports the link service's view: down while no hub answers, up once one does", async () => {
    link = await startLink({ natsUrl: site.nats.url, edge: "shop-7", pipeline: "edge-houseprice", heartbeatMs: 100, heartbeatTimeoutMs: 300, logger: quiet });
    await until("a first heartbeat fails", async () => (await health(site)).body.link.detail !== "no heartbeat answered yet");
    const down = (await health(site)).body;
    assert.equal(down.link.joined, true);
    assert.equal(down.link.edge, "shop-7");
    assert.equal(down.link.link, "down");
    assert.match(down.link.detail ?? "", /unreachable|did not answer/);

    // A heartbeat responder on the site's own server stands in for the hub across a leaf link.
    const answered = site.client.subscribe(`${Subjects.heartbeatPrefix}shop-7`, {
      callback: (_e, m) => { m.respond(JSON.stringify({ ok: true } satisfies HeartbeatReply)); },
    });
    await until("link up", async () => (await health(site)).body.link.link === "up");
    const up = (await health(site)).body;
    assert.equal(up.nats, "connected");
    assert.ok(up.link.last_contact);
    assert.equal(up.link.detail, undefined);
    answered.unsubscribe();
  });
});
