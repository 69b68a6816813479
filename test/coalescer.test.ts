import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { headers, type Msg, type NatsConnection } from "@nats-io/transport-node";
import { FerryError, Headers, Subjects, decodeEnvelope, encodeEnvelope, inferSubject } from "@ferry/contracts";
import { Coalescer, countsOf } from "@ferry/gateway";
import { natsForSuite } from "./helpers/site.js";

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * A responder on a real NATS subject that speaks the batch envelope and echoes each body back.
 * It holds its first message until `release()`, so the test controls what queues up behind it.
 */
function echoResponder(nc: NatsConnection, subject: string): { messages: () => number; release: () => void } {
  let messages = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const reply = (msg: Msg): void => {
    const h = headers();
    const batch = msg.headers?.get(Headers.batch);
    if (batch) {
      const parts = decodeEnvelope(msg.data, Number(batch)).map((p) => ({ headers: { [Headers.status]: "200", [Headers.contentType]: "text/plain" }, body: p.body }));
      h.set(Headers.batch, batch);
      msg.respond(encodeEnvelope(parts), { headers: h });
    } else {
      h.set(Headers.status, "200");
      h.set(Headers.contentType, "text/plain");
      msg.respond(msg.data, { headers: h });
    }
  };
  nc.subscribe(subject, {
    callback: (err, msg) => {
      if (err) return;
      messages++;
      if (messages === 1) void gate.then(() => reply(msg));
      else reply(msg);
    },
  });
  return { messages: () => messages, release };
}

describe("gateway coalescing (real NATS, a controlled responder)", () => {
  const suite = natsForSuite();
  let nc: NatsConnection;
  before(() => { nc = suite.nc; });

  for (const maxBatch of [256, 10]) {
    it(`a lone request goes alone; the ones queued behind it go as envelopes of at most ${maxBatch}`, async () => {
      const subject = `t.echo.${maxBatch}`;
      const responder = echoResponder(nc, subject);
      await nc.flush();
      const coalescer = new Coalescer(nc, { timeoutMs: 5000, maxInFlight: 1, maxBatch });
      const replies = Array.from({ length: 64 }, (_, i) => coalescer.send(subject, { body: enc.encode(`request ${i}`), headers: { "Content-Type": "text/plain" } }));
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(responder.messages(), 1, "only the first is in flight");
      responder.release();
      const got = await Promise.all(replies);
      got.forEach((r, i) => {
        assert.equal(r.status, 200);
        assert.equal(dec.decode(r.body), `request ${i}`);
      });
      assert.equal(responder.messages(), 1 + Math.ceil(63 / maxBatch));
    });
  }

  it("keeps no more requests in flight on a subject than inferers answer it (one inferer: one envelope at a time)", async () => {
    const subject = "t.echo.counted";
    const responder = echoResponder(nc, subject);
    await nc.flush();
    const asked: string[] = [];
    const coalescer = new Coalescer(nc, { timeoutMs: 5000, maxInFlight: 4, maxBatch: 256, inferers: (s) => { asked.push(s); return 1; } });
    const replies = Array.from({ length: 16 }, (_, i) => coalescer.send(subject, { body: enc.encode(`request ${i}`), headers: {} }));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(responder.messages(), 1, "one inferer: only the first is in flight, the others wait to go together");
    responder.release();
    const got = await Promise.all(replies);
    got.forEach((r, i) => assert.equal(dec.decode(r.body), `request ${i}`));
    assert.equal(responder.messages(), 2, "the 15 queued requests went as one envelope");
    assert.ok(asked.every((s) => s === subject));
  });

  it("counts the inferers of each subject from their status replies", () => {
    const running = (id: string) => ({ id, status: "Running" as const, models: [] });
    const counts = countsOf([
      { inferer: "a", current: "p1", pipelines: [running("p1"), running("p2")] },
      { inferer: "b", pipelines: [running("p1"), { id: "p2", status: "Error" as const, models: [] }] },
    ]);
    assert.equal(counts.get(Subjects.infer), 1);
    assert.equal(counts.get(inferSubject("p1")), 2);
    assert.equal(counts.get(inferSubject("p2")), 1);
  });

  it("maps no responders to no_inferer and silence to inferer_timeout", async () => {
    const coalescer = new Coalescer(nc, { timeoutMs: 200, maxInFlight: 2, maxBatch: 16 });
    await assert.rejects(coalescer.send("t.nobody", { body: enc.encode("x"), headers: {} }), (e: unknown) => e instanceof FerryError && e.code === "no_inferer");
    const silent = nc.subscribe("t.silent");
    await nc.flush();
    await assert.rejects(coalescer.send("t.silent", { body: enc.encode("x"), headers: {} }), (e: unknown) => e instanceof FerryError && e.code === "inferer_timeout");
    silent.unsubscribe();
  });

  it("retries once a request that reached no inferer; a responder that appeared meanwhile answers it", async () => {
    const subject = "t.late";
    let attempts = 0;
    // nc, but its first request to the subject subscribes the responder right after publishing it: the
    // SUB leaves on the same connection after that PUB (which finds nobody) and before the retry's PUB.
    const watched = new Proxy(nc, {
      get: (target, key) => {
        if (key !== "publish") return Reflect.get(target, key, target) as unknown;
        return (...args: Parameters<NatsConnection["publish"]>): void => {
          target.publish(...args);
          if (args[0] === subject && ++attempts === 1) echoResponder(nc, subject).release();
        };
      },
    });
    const coalescer = new Coalescer(watched, { timeoutMs: 5000, maxInFlight: 2, maxBatch: 16 });
    const r = await coalescer.send(subject, { body: enc.encode("late"), headers: {} });
    assert.equal(r.status, 200);
    assert.equal(dec.decode(r.body), "late");
    assert.equal(attempts, 2, "one no-responders attempt, one retry");
  });
});
