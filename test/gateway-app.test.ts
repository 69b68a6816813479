import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";
import type { FastifyInstance } from "fastify";
import { Buckets, SiteKeys } from "@ferry/contracts";
import { buildApp, type Readiness } from "@ferry/gateway";
import { quiet, startTestNats } from "./helpers/site.js";

/** The gateway's app on a real NATS without inferers, driven with `app.inject()` (nothing listens). */
describe("gateway app (buildApp, app.inject)", () => {
  let nats: Awaited<ReturnType<typeof startTestNats>>;
  let nc: NatsConnection;
  let app: FastifyInstance;
  before(async () => {
    nats = await startTestNats();
    nc = await connect({ servers: nats.url });
    app = buildApp({
      nc, bodyLimit: 1024, timeoutMs: 2000, pipelines: ["expected"], maxInFlight: 2, maxBatch: 16,
      admission: { maxPending: 100, maxPendingBytes: 1 << 20 }, logger: quiet,
    });
    await app.ready();
  });
  after(async () => {
    await app.close();
    await nc.close();
    await nats.stop();
  });

  it("answers errors as {error, code}: unknown route, no inferer, body over the limit", async () => {
    const cases: [string, string, string, number, string][] = [
      ["GET", "/nowhere", "", 404, "not_found"],
      ["POST", "/infer", "[]", 503, "no_inferer"],
      ["POST", "/pipelines/nobody-knows", "[]", 404, "unknown_pipeline"],
      ["POST", "/infer", "x".repeat(2048), 413, "payload_too_large"],
    ];
    for (const [method, url, payload, status, code] of cases) {
      const res = await app.inject({ method: method as "GET", url, payload, headers: { "content-type": "application/json" } });
      assert.equal(res.statusCode, status, `${method} ${url}: ${res.body}`);
      assert.equal(res.json<{ code: string }>().code, code, `${method} ${url}`);
    }
  });

  it("a wrong method on a known path → 405 method_not_allowed with Allow; an unknown path stays 404", async () => {
    const cases: [string, string, string][] = [
      ["GET", "/infer", "POST"],
      ["DELETE", "/pipelines/some-pipeline", "POST"],
      ["POST", "/pipelines", "GET, HEAD"],
      ["PUT", "/models", "GET, HEAD"],
      ["GET", "/logs", "POST"],
    ];
    for (const [method, url, allow] of cases) {
      const res = await app.inject({ method: method as "GET", url });
      assert.equal(res.statusCode, 405, `${method} ${url}: ${res.body}`);
      assert.equal(res.headers.allow, allow, `${method} ${url}`);
      assert.match(String(res.headers["content-type"]), /application\/json/);
      const body = res.json<{ error: string; code: string }>();
      assert.deepEqual(Object.keys(body).sort(), ["code", "error"]);
      assert.equal(body.code, "method_not_allowed");
      assert.match(body.error, new RegExp(`${method} is not allowed on ${url}`));
    }
    assert.equal((await app.inject({ method: "GET", url: "/nowhere/else" })).statusCode, 404);
    assert.equal((await app.inject({ method: "GET", url: "/docs/static/nope.js" })).statusCode, 404, "a route of this method that finds nothing");
  });

  it("reads buckets created after it started: deployed pipelines and the current one", async () => {
    const before = (await app.inject({ method: "GET", url: "/pipelines" })).json<{ pipelines: { id: string }[] }>();
    assert.deepEqual(before.pipelines.map((p) => p.id), ["expected"]);
    assert.equal((await app.inject({ method: "GET", url: "/ready" })).json<Readiness>().current, null);

    const kvm = new Kvm(nc);
    await (await kvm.create(Buckets.deployments)).put("deployed-later", "{}");
    await (await kvm.create(Buckets.site)).put(SiteKeys.current, "deployed-later");

    const later = (await app.inject({ method: "GET", url: "/pipelines" })).json<{ pipelines: { id: string; status: string }[] }>();
    assert.deepEqual(later.pipelines.map((p) => p.id).sort(), ["deployed-later", "expected"]);
    const ready = await app.inject({ method: "GET", url: "/ready" });
    assert.equal(ready.statusCode, 503);
    assert.equal(ready.json<Readiness>().current, "deployed-later");
  });

  it("leaves a connection it does not own open when it closes", async () => {
    const other = buildApp({
      nc, bodyLimit: 1024, timeoutMs: 2000, pipelines: [], maxInFlight: 2, maxBatch: 16,
      admission: { maxPending: 100, maxPendingBytes: 1 << 20 }, logger: quiet,
    });
    await other.ready();
    await other.close();
    assert.equal(nc.isClosed(), false);
  });
});
