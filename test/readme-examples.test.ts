import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { root } from "./helpers/paths.js";
import { startTestSite, type TestSite } from "./helpers/site.js";

/** The TypeScript examples of a file under docs/ (written so that they are also plain JavaScript). */
function examplesOf(doc: string): string[] {
  const text = readFileSync(join(root, "docs", doc), "utf8");
  return [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

describe("docs/nats-protocol.md's examples run as printed", () => {
  let site: TestSite;
  before(async () => { site = await startTestSite(); });
  after(async () => { await site.stop(); });

  const examples = examplesOf("nats-protocol.md");
  it("has the request/reply and the durable example", () => assert.equal(examples.length, 2));

  examples.forEach((code, i) => {
    it(`example ${i + 1} gets status 200 and a price`, async () => {
      // Beside the compiled tests, so that the repository's node_modules resolve its imports.
      const file = join(root, "test", "dist", `readme-example-${i + 1}.mjs`);
      writeFileSync(file, code);
      const { stdout } = await promisify(execFile)(process.execPath, [file], { env: { ...process.env, NATS_URL: site.nats.url }, timeout: 60_000 });
      const [status, json] = [stdout.slice(0, stdout.indexOf(" ")), stdout.slice(stdout.indexOf(" ") + 1)];
      assert.equal(status, "200");
      const records = JSON.parse(json) as { outputs: Record<string, { data: number[] }>[] }[];
      const price = Object.values(records[0]!.outputs[0]!)[0]!.data[0]!;
      assert.ok(price > 100_000 && price < 5_000_000, `a house price, got ${price}`);
    });
  });
});
