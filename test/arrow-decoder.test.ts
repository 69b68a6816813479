import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Field, FixedSizeList, Float32, Table, tableToIPC, vectorFromArray } from "apache-arrow";
import { FerryError } from "@ferry/contracts";
import { ArrowDecoder } from "@ferry/inferer";
import { houseRef } from "./helpers/paths.js";

describe("Arrow decoding off the main thread", () => {
  const decoder = new ArrowDecoder({ timeoutMs: 1500 }).start();
  after(() => decoder.close());
  const good = tableToIPC(new Table({ tensor: vectorFromArray(houseRef.rows.slice(0, 3), new FixedSizeList(18, new Field("item", new Float32()))) }), "file");

  async function attempt(bytes: Uint8Array): Promise<"ok" | string> {
    try {
      const t = await decoder.decode(bytes);
      for (const name of t.columnNames) t.column(name);
      return "ok";
    } catch (err) {
      assert.ok(err instanceof FerryError, `not a FerryError: ${String(err)}`);
      assert.ok(err.status >= 400 && err.status < 500, `${err.code} is not a 4xx`);
      return err.code;
    }
  }

  it("decodes a good file", async () => {
    const t = await decoder.decode(good);
    assert.equal(t.rowCount, 3);
    assert.equal(t.column("tensor").values.length, 54);
  });

  it("ends every truncated or bit-flipped file in a table or a 4xx FerryError, and keeps decoding", { timeout: 120_000 }, async () => {
    const outcomes = new Map<string, number>();
    const count = (o: string): void => { outcomes.set(o, (outcomes.get(o) ?? 0) + 1); };
    for (let n = 0; n < good.length; n += 5) count(await attempt(good.subarray(0, n)));
    let seed = 42;
    const next = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648);
    for (let k = 0; k < 300; k++) {
      const bytes = new Uint8Array(good);
      for (let f = 0; f < 1 + (k % 4); f++) bytes[next() % bytes.length]! ^= 1 << (next() % 8);
      count(await attempt(bytes));
    }
    assert.ok((outcomes.get("bad_arrow") ?? 0) > 0, JSON.stringify([...outcomes]));
    assert.equal(await attempt(good), "ok", "the decoder still works after the hostile bodies");
  });
});
