import assert from "node:assert/strict";
import { copyFile, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Field, FixedSizeList, Float32, Table, tableToIPC, vectorFromArray } from "apache-arrow";
import type { InferenceRecord, LogRecord } from "@ferry/contracts";
import { publishManifestFile } from "@ferry/deployer";
import { houseRef, models } from "./helpers/paths.js";
import { ARROW_FILE, PANDAS, houseRecords, post, startDeploySite, until, type DeploySite } from "./helpers/site.js";
import { binaryRequest, f32Bytes, outputOf, v2Post } from "./helpers/v2.js";

const houseTensor = (rows: readonly number[][]): unknown => ({ name: "tensor", datatype: "FP32", shape: [rows.length, 18], data: rows.flat() });

/** The records of `pipeline` stored since `since` (ms), oldest first. */
async function storedSince(url: string, pipeline: string, since: number): Promise<LogRecord[]> {
  const res = await fetch(`${url}/logs`, { method: "POST", body: JSON.stringify({ pipeline, start_time: since, page_size: 100 }), headers: { "Content-Type": "application/json" } });
  assert.equal(res.status, 200);
  return (await res.json()) as LogRecord[];
}

/** A stored record without what differs from one run to the next (its time, the steps' elapsed times). */
function comparable(r: LogRecord): unknown {
  const { time: _time, metadata, ...rest } = r;
  const { elapsed: _elapsed, ...meta } = metadata;
  return { ...rest, metadata: meta };
}

describe("V2 REST through validations, shadows, the log and a swap", () => {
  let site: DeploySite;
  let url: string;
  before(async () => {
    site = await startDeploySite({ logPublisher: { flushMs: 1 } });
    url = site.gateway.url;
    await copyFile(join(models, "house-price-estimator.onnx"), join(site.dir, "house.onnx"));
    // A challenger: another file (an unknown protobuf field appended) with the same weights.
    await writeFile(join(site.dir, "challenger.onnx"), Buffer.concat([await readFile(join(models, "house-price-estimator.onnx")), Buffer.from([0xa0, 0x06, 0x01])]));
    await copyFile(join(models, "price-bucket.onnx"), join(site.dir, "bucket.onnx"));
    await writeFile(join(site.dir, "checked.json"), JSON.stringify({
      pipeline: "checked",
      steps: [{ model: "house", file: "house.onnx", shadows: [{ model: "challenger", file: "challenger.onnx" }, { model: "broken-shadow", file: "bucket.onnx" }] }],
      validations: { too_high: "variable > 800000", cheap: "variable < 400000" },
    }));
    await writeFile(join(site.dir, "swap-v1.json"), JSON.stringify({ pipeline: "swap", steps: [{ model: "house", file: "house.onnx" }] }));
    await writeFile(join(site.dir, "swap-v2.json"), JSON.stringify({ pipeline: "swap", steps: [{ model: "house", file: "challenger.onnx" }] }));
    await writeFile(join(site.dir, "ab-keyed.json"), JSON.stringify({
      pipeline: "ab-keyed", steps: [{ model: "ab-test", split: { key_header: true, arms: [{ model: "house", file: "house.onnx", weight: 1 }, { model: "challenger", file: "challenger.onnx", weight: 1 }] } }],
    }));
    await publishManifestFile(site.stores, join(site.dir, "ab-keyed.json"));
    await publishManifestFile(site.stores, join(site.dir, "checked.json"));
    await publishManifestFile(site.stores, join(site.dir, "swap-v1.json"));
    await until("the pipelines to serve", async () => {
      const p = ((await (await fetch(`${url}/pipelines`)).json()) as { pipelines: { status: string }[] }).pipelines;
      return p.length === 3 && p.every((x) => x.status === "Running");
    });
  });
  after(async () => { await site.stop(); });

  it("check_failures and shadow_data come in the parameters, one entry per row, as the Wallaroo endpoint's records have them", async () => {
    const r = await v2Post(`${url}/v2/models/checked/infer`, JSON.stringify({ inputs: [houseTensor(houseRef.rows)] }));
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const expected = houseRef.outputs.map(([price]) => [...(price! > 800000 ? [0] : []), ...(price! < 400000 ? [1] : [])]);
    assert.ok(expected.some((f) => f.length > 0) && expected.some((f) => f.length === 0), "the rows trigger some validations, not all");
    assert.deepEqual(JSON.parse(r.json.parameters.check_failures as string), expected);
    const shadows = JSON.parse(r.json.parameters.shadow_data as string) as Record<string, { Float: { data: number[]; dim: number[] } }[]>[];
    assert.equal(shadows.length, 20);
    const prices = outputOf(r, "variable").data as number[];
    shadows.forEach((s, i) => {
      assert.deepEqual(Object.keys(s), ["challenger"], "the failing shadow is left out");
      const shadow = s.challenger![0]!.Float;
      assert.deepEqual([shadow.data, shadow.dim], [[prices[i]], [1, 1]]);
    });
    assert.equal(r.json.parameters.step_model, "house");
    const wallaroo = await post(`${url}/pipelines/checked`, houseRecords(houseRef.rows), { "Content-Type": PANDAS });
    const records = wallaroo.json as InferenceRecord[];
    assert.equal(r.json.parameters.check_failures, JSON.stringify(records.map((x) => x.check_failures)));
    assert.equal(r.json.parameters.shadow_data, JSON.stringify(records.map((x) => x.shadow_data)));
    assert.equal(r.json.parameters.step_model_version, records[0]!.model_version);
  });

  it("Ferry-Split-Key reaches a keyed A/B split: the same key, the same arm", async () => {
    const body = JSON.stringify({ inputs: [houseTensor([houseRef.rows[0]!])] });
    const arm = async (key: string): Promise<string> => {
      const r = await v2Post(`${url}/v2/models/ab-keyed/infer`, body, { "Content-Type": "application/json", "Ferry-Split-Key": key });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      return r.json.parameters.step_model as string;
    };
    const seen = new Set<string>();
    for (let k = 0; k < 16; k++) {
      const first = await arm(`session-${k}`);
      seen.add(first);
      for (let again = 0; again < 3; again++) assert.equal(await arm(`session-${k}`), first, `session-${k}`);
    }
    assert.deepEqual([...seen].sort(), ["challenger", "house"], "different keys reach both arms");
  });

  it("a V2 inference is stored in /logs exactly as the same rows sent to /pipelines/{name}: JSON as pandas-records, binary as Float32 Arrow", async () => {
    const rows = [houseRef.rows[1]!, houseRef.rows[2]!, houseRef.rows[7]!];
    const sends: [string, () => Promise<number>][] = [
      ["wallaroo", async () => (await post(`${url}/pipelines/checked`, houseRecords(rows), { "Content-Type": PANDAS })).status],
      ["wallaroo arrow", async () => {
        const table = new Table({ tensor: vectorFromArray(rows, new FixedSizeList(18, new Field("item", new Float32()))) });
        return (await post(`${url}/pipelines/checked`, tableToIPC(table, "file"), { "Content-Type": ARROW_FILE })).status;
      }],
      ["v2 json", async () => (await v2Post(`${url}/v2/models/checked/infer`, JSON.stringify({ inputs: [houseTensor(rows)] }))).status],
      ["v2 binary", async () => {
        const { body, headers } = binaryRequest({ inputs: [{ name: "tensor", datatype: "FP32", shape: [3, 18], parameters: { binary_data_size: 3 * 18 * 4 } }] }, f32Bytes(Float32Array.from(rows.flat())));
        return (await v2Post(`${url}/v2/models/checked/infer`, body, headers)).status;
      }],
    ];
    const stored = new Map<string, LogRecord[]>();
    for (const [what, send] of sends) {
      await sleep(5);
      const since = Date.now();
      await sleep(2);
      assert.equal(await send(), 200, what);
      let got: LogRecord[] = [];
      await until(`the ${what} records`, async () => (got = await storedSince(url, "checked", since)).length >= rows.length);
      assert.equal(got.length, rows.length, what);
      stored.set(what, got);
    }
    const wallaroo = stored.get("wallaroo")!;
    assert.deepEqual(wallaroo.map((r) => r.in.tensor), rows);
    assert.ok(wallaroo.some((r) => r.anomaly.count > 0), "a row with check failures is among them");
    assert.ok(wallaroo.every((r) => "out_challenger" in r), "shadow outputs are stored");
    assert.deepEqual(stored.get("v2 json")!.map(comparable), wallaroo.map(comparable));
    // Raw FP32 data is float32: stored as the same rows sent to the Wallaroo endpoint as a Float32 Arrow table.
    const arrow = stored.get("wallaroo arrow")!;
    assert.notDeepEqual(arrow.map(comparable), wallaroo.map(comparable), "float32 inputs are stored widened, not as the JSON text");
    assert.deepEqual(stored.get("v2 binary")!.map(comparable), arrow.map(comparable));
  });

  it("a new pipeline version published under V2 load: no request fails, and the V2 model version follows", async () => {
    const body = JSON.stringify({ inputs: [houseTensor([houseRef.rows[0]!])] });
    const before = await v2Post(`${url}/v2/models/swap/infer`, body);
    assert.equal(before.status, 200, JSON.stringify(before.json));
    const v1Step = before.json.parameters.step_model_version;
    const seen: string[] = [];
    const failures: string[] = [];
    let stop = false;
    const load = Promise.all(Array.from({ length: 4 }, async () => {
      while (!stop) {
        const r = await v2Post(`${url}/v2/models/swap/infer`, body);
        if (r.status !== 200) failures.push(`${r.status} ${JSON.stringify(r.json)}`);
        else {
          seen.push(r.json.parameters.step_model_version as string);
          assert.deepEqual(outputOf(r, "variable").data, outputOf(before, "variable").data);
        }
      }
    }));
    try {
      await sleep(200);
      const published = await publishManifestFile(site.stores, join(site.dir, "swap-v2.json"));
      const v2Step = published.manifest.steps[0]!.version!;
      assert.notEqual(v2Step, v1Step);
      await until("v2 to answer", async () => seen.at(-1) === v2Step);
      const swappedAt = seen.length;
      await sleep(300);
      stop = true;
      await load;
      assert.deepEqual(failures, []);
      assert.ok(seen.every((v) => v === v1Step || v === v2Step));
      assert.ok(seen.slice(swappedAt).every((v) => v === v2Step), "after the swap only v2");
      await until("the V2 metadata to show the new version", async () => {
        const meta = (await (await fetch(`${url}/v2/models/swap`)).json()) as { versions: string[] };
        return meta.versions.length === 1 && meta.versions[0] === published.manifest.pipeline_version;
      });
      const after = await v2Post(`${url}/v2/models/swap/infer`, body);
      assert.equal(after.json.model_version, published.manifest.pipeline_version);
      assert.notEqual(after.json.model_version, before.json.model_version);
      const old = await v2Post(`${url}/v2/models/swap/versions/${before.json.model_version}/infer`, body);
      assert.equal(old.status, 404);
      assert.equal(old.json.code, "unknown_version");
    } finally {
      stop = true;
      await load;
    }
  });
});
