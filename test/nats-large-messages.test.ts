import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { DenoBuffer } from "@nats-io/nats-core/internal";
import { connect, headers, type Msg, type NatsConnection } from "@nats-io/transport-node";
import { reserveLargeMessages } from "@ferry/runtime";
import { natsForSuite } from "./helpers/site.js";

/** Counts the buffer reallocations of nats.js's DenoBuffer (the parser assembles large messages in one) while `run` runs. */
async function countGrowths<T>(run: () => Promise<T>): Promise<{ result: T; growths: number; allocatedBytes: number }> {
  const proto = DenoBuffer.prototype as unknown as { _grow(n: number): number; capacity: number };
  const original = proto._grow;
  let growths = 0;
  let allocatedBytes = 0;
  proto._grow = function (this: typeof proto, n: number): number {
    const before = this.capacity;
    const at = original.call(this, n);
    if (this.capacity !== before) {
      growths++;
      allocatedBytes += this.capacity;
    }
    return at;
  };
  try {
    return { result: await run(), growths, allocatedBytes };
  } finally {
    proto._grow = original;
  }
}

describe("large NATS messages are assembled in one buffer (nats.js parser workaround)", () => {
  const suite = natsForSuite();
  let receiver: NatsConnection;
  const got: Msg[] = [];
  before(async () => {
    assert.equal(reserveLargeMessages(), "applied", "the pinned nats.js parser has the fields the workaround reads");
    receiver = await connect({ servers: suite.url });
    receiver.subscribe("large.>", { callback: (_e, m) => { got.push(m); } });
    await receiver.flush();
  });
  after(async () => { await receiver?.close(); });

  it("a 6 MB message costs one buffer, not a doubling series, and arrives bit-exact", async () => {
    const body = randomBytes(6 * 1024 * 1024);
    got.length = 0;
    const { growths, allocatedBytes } = await countGrowths(async () => {
      suite.nc.publish("large.one", body);
      await suite.nc.flush();
      await receiver.flush();
    });
    assert.equal(got.length, 1);
    assert.ok(Buffer.from(got[0]!.data).equals(body), "the payload changed on the way");
    // Unpatched, the buffer doubles from one socket read up: 64 K, 192 K, … 8 MB, about 8 growths and 16 MB.
    assert.equal(growths, 1, `the assembling buffer grew ${growths} times`);
    assert.ok(allocatedBytes < 1.2 * body.length, `${allocatedBytes} bytes allocated for a ${body.length}-byte message`);
  });

  it("messages of every size, with headers, back to back on one connection, arrive whole and in order", async () => {
    const sizes = [0, 1, 100, 65_535, 65_536, 65_537, 200_000, 1_000_003, 7, 3_000_000, 64 * 1024 - 40];
    const bodies = sizes.map((n) => randomBytes(n));
    got.length = 0;
    bodies.forEach((b, i) => {
      const h = headers();
      h.set("N", String(i));
      if (i % 2 === 0) suite.nc.publish(`large.${i}`, b, { headers: h });
      else suite.nc.publish(`large.${i}`, b);
    });
    await suite.nc.flush();
    await receiver.flush();
    assert.equal(got.length, bodies.length);
    got.forEach((m, i) => {
      assert.equal(m.subject, `large.${i}`);
      assert.equal(m.headers?.get("N") ?? String(i), String(i));
      assert.equal(i % 2 === 0, m.headers !== undefined, `message ${i}'s headers`);
      assert.ok(Buffer.from(m.data).equals(bodies[i]!), `message ${i} (${sizes[i]} bytes) changed on the way`);
    });
  });
});
