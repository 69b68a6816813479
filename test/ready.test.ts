import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Kvm } from "@nats-io/kv";
import { Buckets, SiteKeys } from "@ferry/contracts";
import type { Readiness } from "@ferry/gateway";
import { startTestSite, until, type TestSite } from "./helpers/site.js";

async function ready(site: TestSite): Promise<{ status: number; body: Readiness }> {
  const res = await fetch(`${site.url}/ready`);
  return { status: res.status, body: (await res.json()) as Readiness };
}

describe("GET /ready", () => {
  describe("the demo site", () => {
    let site: TestSite;
    before(async () => { site = await startTestSite({ logger: false }); });
    after(async () => { await site.stop(); });

    it("is ready: NATS connected and an inferer runs the current pipeline", async () => {
      const r = await ready(site);
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, {
        status: "ready", nats: "connected", current: "edge-houseprice", inferers: 1, serving: 1,
        link: { joined: false, link: "standalone" }, reasons: [],
      });
    });

    it("is not ready while the site's current pipeline (KV ferry-site) runs nowhere, and ready again once it does", async () => {
      const kv = await new Kvm(site.client).open(Buckets.site);
      await kv.put(SiteKeys.current, "no-such-pipeline");
      const r = await ready(site);
      assert.equal(r.status, 503);
      assert.equal(r.body.status, "not_ready");
      assert.equal(r.body.current, "no-such-pipeline");
      assert.equal(r.body.inferers, 1);
      assert.equal(r.body.serving, 0);
      assert.deepEqual(r.body.reasons, ["no inferer serves the current pipeline no-such-pipeline"]);

      await kv.put(SiteKeys.current, "edge-cv-demo");
      const back = await ready(site);
      assert.equal(back.status, 200);
      assert.equal(back.body.current, "edge-cv-demo");
      // The inferer follows the key too: POST /infer now runs edge-cv-demo.
      await until("the inferer follows the key", async () => site.inferer!.status().current === "edge-cv-demo");
    });
  });

  describe("a site without inferers", () => {
    let site: TestSite;
    before(async () => { site = await startTestSite({ manifests: [], logger: false }); });
    after(async () => { await site.stop(); });

    it("answers 503 with the same body and its reasons", async () => {
      const r = await ready(site);
      assert.equal(r.status, 503);
      assert.deepEqual(r.body, {
        status: "not_ready", nats: "connected", current: null, inferers: 0, serving: 0,
        link: { joined: false, link: "standalone" }, reasons: ["no inferer answers ferry.status"],
      });
    });
  });
});
