import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { connect, errors, headers, type NatsConnection } from "@nats-io/transport-node";
import { RequestMux } from "@ferry/runtime";
import { natsForSuite } from "./helpers/site.js";

const enc = new TextEncoder();
const dec = new TextDecoder();

describe("request mux (real NATS)", () => {
  const suite = natsForSuite();
  let nc: NatsConnection;
  before(() => { nc = suite.nc; });

  it("matches each reply to its request, whatever order the replies come in", async () => {
    const held: { respond: () => void }[] = [];
    nc.subscribe("mux.echo", {
      callback: (_err, msg) => {
        held.push({ respond: () => msg.respond(msg.data, { headers: msg.headers }) });
        // Answer all 20 at once, last first.
        if (held.length === 20) for (const h of held.reverse()) h.respond();
      },
    });
    await nc.flush();
    const mux = new RequestMux(nc);
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => {
      const h = headers();
      h.set("N", String(i));
      return mux.request("mux.echo", enc.encode(`body ${i}`), h, 5000);
    }));
    replies.forEach((m, i) => {
      assert.equal(dec.decode(m.data), `body ${i}`);
      assert.equal(m.headers?.get("N"), String(i));
    });
    assert.equal(mux.waiting, 0);
  });

  it("rejects with nats.js's NoRespondersError and TimeoutError, and forgets the request", async () => {
    const mux = new RequestMux(nc);
    await assert.rejects(mux.request("mux.nobody", enc.encode("x"), headers(), 5000), (e: unknown) => e instanceof errors.NoRespondersError);
    nc.subscribe("mux.silent");
    await nc.flush();
    await assert.rejects(mux.request("mux.silent", enc.encode("x"), headers(), 100), (e: unknown) => e instanceof errors.TimeoutError);
    assert.equal(mux.waiting, 0);
  });

  it("fails what waits when the connection closes", async () => {
    const own = await connect({ servers: suite.url });
    own.subscribe("mux.silent2");
    await own.flush();
    const mux = new RequestMux(own);
    const pending = mux.request("mux.silent2", enc.encode("x"), headers(), 60_000);
    await own.close();
    await assert.rejects(pending, (e: unknown) => e instanceof errors.ClosedConnectionError);
  });
});
