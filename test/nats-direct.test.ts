import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { headers } from "@nats-io/transport-node";
import { Headers, Subjects, inferSubject, type InferenceRecord } from "@ferry/contracts";
import { houseRef, models } from "./helpers/paths.js";
import { ARROW_FILE, PANDAS, houseRecords, post, startTestSite, type TestSite } from "./helpers/site.js";

/** A record without the fields that differ between two runs of the same input. */
function stable(records: InferenceRecord[]): unknown[] {
  return records.map(({ time: _t, elapsed, ...rest }) => ({ ...rest, steps: elapsed.length }));
}

describe("devices can skip HTTP and use NATS directly", () => {
  let site: TestSite;
  before(async () => { site = await startTestSite(); });
  after(async () => { await site.stop(); });

  const request = async (subject: string, body: Uint8Array | string, contentType: string, accept?: string) => {
    const h = headers();
    h.set(Headers.contentType, contentType);
    if (accept) h.set(Headers.accept, accept);
    const msg = await site.client.request(subject, body, { timeout: 10_000, headers: h });
    return { status: Number(msg.headers?.get(Headers.status)), type: msg.headers?.get(Headers.contentType), data: msg.data, json: () => msg.json<unknown>() };
  };

  it("ferry.infer answers with the same reply as POST /infer", async () => {
    const body = houseRecords(houseRef.rows.slice(0, 5));
    const viaNats = await request(Subjects.infer, body, PANDAS);
    const viaHttp = await post(`${site.url}/infer`, body, { "Content-Type": PANDAS });
    assert.equal(viaNats.status, 200);
    assert.equal(viaNats.type, viaHttp.type);
    assert.deepEqual(stable(viaNats.json() as InferenceRecord[]), stable(viaHttp.json as InferenceRecord[]));
  });

  it("ferry.infer.<pipeline> takes Arrow bytes as they are", async () => {
    const image = readFileSync(join(models, "data", "image_224x224.arrow"));
    const viaNats = await request(inferSubject("edge-cv-demo"), image, ARROW_FILE);
    const viaHttp = await post(`${site.url}/pipelines/edge-cv-demo`, image, { "Content-Type": ARROW_FILE });
    assert.equal(viaNats.status, 200);
    assert.deepEqual(stable(viaNats.json() as InferenceRecord[]), stable(viaHttp.json as InferenceRecord[]));
  });

  it("errors come back as Ferry-Status plus the same JSON error body", async () => {
    const viaNats = await request(Subjects.infer, "[{\"tensor\": [1]}]", PANDAS);
    const viaHttp = await post(`${site.url}/infer`, "[{\"tensor\": [1]}]", { "Content-Type": PANDAS });
    assert.equal(viaNats.status, 422);
    assert.equal(viaNats.status, viaHttp.status);
    assert.deepEqual(viaNats.json(), viaHttp.json);
  });
});
