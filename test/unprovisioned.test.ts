import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import { Headers, LogStream, ResultStream, Subjects, inferSubject, resultSubject, submitSubject } from "@ferry/contracts";
import { provision, siteAssets, storageSettings } from "@ferry/runtime";
import { start as startInferer } from "@ferry/inferer";
import { start as startLogger } from "@ferry/logger";
import { houseRef, manifests } from "./helpers/paths.js";
import { PANDAS, houseRecords, quiet, startTestNats, until } from "./helpers/site.js";

const PIPELINE = "edge-houseprice";

/** The status a `ferry.logs.query` answer carries. */
async function logsStatus(nc: NatsConnection): Promise<{ status: string | undefined; code?: string }> {
  const m = await nc.request(Subjects.logsQuery, JSON.stringify({}), { timeout: 5000 });
  const status = m.headers?.get(Headers.status);
  return status === "200" ? { status } : { status, code: m.json<{ code: string }>().code };
}

function pandas(): ReturnType<typeof headers> {
  const h = headers();
  h.set(Headers.contentType, PANDAS);
  return h;
}

describe("services on a site not provisioned yet", () => {
  it("open nothing they would create: they say what is missing, serve what they can, and take up the assets once provisioned", async () => {
    const nats = await startTestNats(undefined, []);
    const dir = await mkdtemp(join(tmpdir(), "ferry-unprovisioned-"));
    const nc = await connect({ servers: nats.url });
    const logger = await startLogger({ natsUrl: nats.url, logger: quiet });
    // Replies that need no stored record (--log-ack async): with the default, sync, an inference without
    // FERRY_LOGS answers 503 logs_unavailable (test/logs.test.ts).
    const inferer = await startInferer({ natsUrl: nats.url, manifests: [manifests.houseprice], cacheDir: join(dir, "cache"), partition: "unprovisioned", logAck: "async", logger: quiet });
    try {
      assert.deepEqual(await logsStatus(nc), { status: "503", code: "logs_unavailable" });
      assert.match(inferer.status().detail ?? "", /cannot watch deployments/);
      const reply = await nc.request(inferSubject(PIPELINE), houseRecords([houseRef.rows[0]!]), { headers: pandas(), timeout: 10_000 });
      assert.equal(reply.headers?.get(Headers.status), "200", "manifest files are served meanwhile");
      const jsm = await jetstreamManager(nc);
      assert.deepEqual((await jsm.streams.names().next()).length, 0, "no service created a stream or bucket");

      await provision(nc, siteAssets(storageSettings()));
      await until("the inferer to watch deployments", () => Promise.resolve(inferer.status().detail === undefined), 15_000);
      await until("the logger to open FERRY_LOGS", async () => (await logsStatus(nc)).status === "200", 15_000);
      const h = pandas();
      h.set(Headers.requestId, "after-provision");
      await jetstream(nc).publish(submitSubject(PIPELINE), houseRecords([houseRef.rows[1]!]), { headers: h, msgID: "after-provision" });
      await until("the durable result", async () => (await jsm.direct.getMessage(ResultStream, { last_by_subj: resultSubject(PIPELINE, "after-provision") })) !== null, 15_000);
    } finally {
      await inferer.stop();
      await logger.stop();
      await nc.close();
      await nats.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("the log stream deleted under a running logger", () => {
  it("/logs answers 503 logs_unavailable naming the store, not 500; once provisioned again, 200", async () => {
    const nats = await startTestNats();
    const nc = await connect({ servers: nats.url });
    const logger = await startLogger({ natsUrl: nats.url, logger: quiet });
    try {
      assert.deepEqual(await logsStatus(nc), { status: "200" });
      await (await jetstreamManager(nc)).streams.delete(LogStream);
      const m = await nc.request(Subjects.logsQuery, JSON.stringify({}), { timeout: 5000 });
      assert.equal(m.headers?.get(Headers.status), "503", m.string());
      const body = m.json<{ error: string; code: string }>();
      assert.equal(body.code, "logs_unavailable");
      assert.match(body.error, /^the log store did not answer the query: .*stream not found/i);
      assert.deepEqual(await logsStatus(nc), { status: "503", code: "logs_unavailable" }, "the logger keeps answering");

      await provision(nc, siteAssets(storageSettings()));
      assert.deepEqual(await logsStatus(nc), { status: "200" });
    } finally {
      await logger.stop();
      await nc.close();
      await nats.stop();
    }
  });
});
