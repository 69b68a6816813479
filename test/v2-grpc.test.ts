import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { inferSubject, type InferenceRecord } from "@ferry/contracts";
import { start as startGateway, type Gateway } from "@ferry/gateway";
import { makeCa, makeServerCert, type CertPair } from "@ferry/natsd";
import { isCi } from "./helpers/browser.js";
import { bucketRef, houseRef, imagePixels, imageRef, manifests, root } from "./helpers/paths.js";
import { tlsHandshake } from "./helpers/tls-probe.js";
import { PANDAS, houseRecords, post, quiet, relDiff, startTestSite, until, type TestSite } from "./helpers/site.js";

const protoDir = join(root, "gateway", "proto");
const manifest = async (path: string): Promise<{ pipeline: string; pipeline_version: string }> => JSON.parse(await readFile(path, "utf8")) as { pipeline: string; pipeline_version: string };
const house = await manifest(manifests.houseprice);
const bucketed = await manifest(manifests.bucketed);
const cv = await manifest(manifests.cv);

/** The service's client constructor, from the same .proto any stock client compiles. */
const definition = protoLoader.loadSync(join(protoDir, "grpc_service.proto"), { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
const Service = (grpc.loadPackageDefinition(definition) as unknown as { inference: { GRPCInferenceService: grpc.ServiceClientConstructor } }).inference.GRPCInferenceService;

interface Contents { fp32_contents: number[]; int64_contents: string[]; bytes_contents: Buffer[] }
interface OutputTensor { name: string; datatype: string; shape: string[]; contents: Contents | null }
interface InferResponse {
  model_name: string; model_version: string; id: string;
  parameters: Record<string, { bool_param?: boolean; int64_param?: string; string_param?: string }>;
  outputs: OutputTensor[];
  raw_output_contents: Buffer[];
}
interface TensorMetadata { name: string; datatype: string; shape: string[] }

/** A failed call: its gRPC status and the `ferry-code` trailer. */
interface Refusal { code: grpc.status; details: string; ferryCode: unknown }

/** One unary call, promisified; rejects with the grpc-js ServiceError. */
function call<T>(client: grpc.Client, method: string, request: object, metadata = new grpc.Metadata()): Promise<T> {
  const fn = (client as unknown as Record<string, (req: object, md: grpc.Metadata, cb: (err: grpc.ServiceError | null, res: T) => void) => void>)[method]!;
  return new Promise<T>((resolve, reject) => fn.call(client, request, metadata, (err, res) => (err ? reject(err) : resolve(res))));
}

/** The call's refusal; fails the test if the call succeeds. */
async function refusal(client: grpc.Client, method: string, request: object): Promise<Refusal> {
  try {
    const res = await call<unknown>(client, method, request);
    assert.fail(`${method} succeeded: ${JSON.stringify(res)}`);
  } catch (err) {
    if (err instanceof assert.AssertionError) throw err;
    const e = err as grpc.ServiceError;
    return { code: e.code, details: e.details, ferryCode: e.metadata.get("ferry-code")[0] };
  }
}

const fp32 = (values: Iterable<number>): Buffer => Buffer.from(Float32Array.from(values).buffer);
const rawFloats = (b: Buffer): number[] => Array.from(new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)));
const rawInt64s = (b: Buffer): number[] => Array.from(new BigInt64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)), Number);
const houseFlat = houseRef.rows.flat();
const houseShape = [houseRef.rows.length, houseRef.rows[0]!.length];
const houseTensor = { name: "tensor", datatype: "FP32", shape: houseShape };

/** What the Wallaroo endpoint answers for the same rows: the `index`th output of every record, flattened. */
async function wallaroo(url: string, pipeline: string, body: string, index: number): Promise<number[]> {
  const r = await post(`${url}/pipelines/${pipeline}`, body, { "Content-Type": PANDAS });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return (r.json as InferenceRecord[]).flatMap((rec) => {
    const entry = rec.outputs[index]!;
    return (Object.values(entry)[0]!.data as number[]).map(Number);
  });
}

/** Float32 bit patterns, to compare bit for bit. */
const bits = (values: readonly number[]): string[] => values.map((v) => Buffer.from(Float32Array.of(v).buffer).toString("hex"));

/**
 * The house-price references are numpy's float32 evaluation of the graph; ONNX Runtime's kernels round
 * differently (a few ulp on some rows, batched or not), so models/README.md says to compare to ~1e-5.
 * Bit-for-bit comparisons are against the Wallaroo endpoint, which runs the same inferer.
 */
function closeToHouseRef(values: readonly number[], rows = houseRef.outputs.length): void {
  const ref = houseRef.outputs.slice(0, rows).flat();
  assert.equal(values.length, ref.length);
  values.forEach((v, i) => assert.ok(relDiff(v, ref[i]!) < 1e-5, `row ${i}: ${v} vs the reference ${ref[i]}`));
}

/** Nested [1,3,224,224] lists of an image's pixels (the Wallaroo endpoint's pandas-records form). */
function nestImage(px: Float32Array): number[][][][] {
  const out: number[][][][] = [[]];
  for (let c = 0; c < 3; c++) {
    const plane: number[][] = [];
    for (let y = 0; y < 224; y++) plane.push(Array.from(px.subarray((c * 224 + y) * 224, (c * 224 + y + 1) * 224)));
    out[0]!.push(plane);
  }
  return out;
}

describe("V2 gRPC (Open Inference Protocol) with @grpc/grpc-js against a running site", () => {
  let site: TestSite;
  let client: grpc.Client;
  let houseWallaroo: number[];
  let bucketWallaroo: number[];

  before(async () => {
    site = await startTestSite({ manifests: [manifests.houseprice, manifests.bucketed, manifests.cv], gateway: { grpcPort: 0 } });
    assert.ok(site.gateway.grpcPort && site.gateway.grpcPort > 0, "the gateway reports its gRPC port");
    client = new Service(`127.0.0.1:${site.gateway.grpcPort}`, grpc.credentials.createInsecure());
    houseWallaroo = await wallaroo(site.url, house.pipeline, houseRecords(houseRef.rows), 0);
    bucketWallaroo = await wallaroo(site.url, bucketed.pipeline, houseRecords(houseRef.rows), 0);
  });
  after(async () => {
    client?.close();
    await site?.stop();
  });

  it("the Wallaroo endpoint, which the gRPC answers are compared with bit for bit, gives the generator's references", () => {
    closeToHouseRef(houseWallaroo);
    assert.deepEqual(bucketWallaroo, bucketRef.buckets.flat());
  });

  it("ServerLive, ServerReady and ServerMetadata", async () => {
    assert.deepEqual(await call(client, "ServerLive", {}), { live: true });
    await until("ServerReady", async () => (await call<{ ready: boolean }>(client, "ServerReady", {})).ready);
    const meta = await call<{ name: string; version: string; extensions: string[] }>(client, "ServerMetadata", {});
    const pkg = JSON.parse(await readFile(join(root, "gateway", "package.json"), "utf8")) as { version: string };
    assert.equal(meta.name, "ferry");
    assert.equal(meta.version, pkg.version);
    assert.deepEqual(meta.extensions, ["binary_tensor_data"]);
  });

  it("ModelReady: by name, by name and running version; unknown names and versions are NOT_FOUND with Ferry's code", async () => {
    for (const m of [house, bucketed, cv]) {
      assert.deepEqual(await call(client, "ModelReady", { name: m.pipeline }), { ready: true }, m.pipeline);
      assert.deepEqual(await call(client, "ModelReady", { name: m.pipeline, version: m.pipeline_version }), { ready: true }, m.pipeline);
    }
    const m = await refusal(client, "ModelReady", { name: "no-such-model" });
    assert.deepEqual([m.code, m.ferryCode], [grpc.status.NOT_FOUND, "unknown_model"], m.details);
    const v = await refusal(client, "ModelReady", { name: house.pipeline, version: "not-a-version" });
    assert.equal(v.code, grpc.status.NOT_FOUND);
    assert.equal(v.ferryCode, "unknown_version");
    assert.match(v.details, new RegExp(house.pipeline_version), "the refusal names the running version");
  });

  it("ModelMetadata: each pipeline's version, request columns and last step's outputs", async () => {
    const meta = (name: string, version = ""): Promise<{ name: string; versions: string[]; platform: string; inputs: TensorMetadata[]; outputs: TensorMetadata[] }> => call(client, "ModelMetadata", { name, version });
    const h = await meta(house.pipeline, house.pipeline_version);
    assert.equal(h.name, house.pipeline);
    assert.deepEqual(h.versions, [house.pipeline_version]);
    assert.equal(h.platform, "onnxruntime_onnx");
    assert.equal(h.inputs.length, 1);
    assert.deepEqual({ name: h.inputs[0]!.name, datatype: h.inputs[0]!.datatype }, { name: "tensor", datatype: "FP32" });
    assert.equal(h.inputs[0]!.shape.at(-1), "18");
    assert.deepEqual(h.outputs.map((o) => o.datatype), ["FP32"]);
    const b = await meta(bucketed.pipeline);
    assert.deepEqual(b.versions, [bucketed.pipeline_version]);
    assert.deepEqual(b.outputs.map((o) => o.datatype), ["INT64"], "the last step's output");
    const c = await meta(cv.pipeline);
    assert.deepEqual(c.inputs[0]!.shape.slice(1), ["3", "224", "224"]);
    assert.deepEqual(c.outputs.map((o) => o.datatype), ["INT64", "FP32"]);
    const unknown = await refusal(client, "ModelMetadata", { name: "no-such-model" });
    assert.deepEqual([unknown.code, unknown.ferryCode], [grpc.status.NOT_FOUND, "unknown_model"]);
  });

  it("ModelInfer with typed contents: a 20-row FP32 batch, a version and an id; typed FP32 contents back, equal to the Wallaroo endpoint's", async () => {
    const res = await call<InferResponse>(client, "ModelInfer", {
      model_name: house.pipeline, model_version: house.pipeline_version, id: "typed-1",
      inputs: [{ ...houseTensor, contents: { fp32_contents: houseFlat } }],
    });
    assert.equal(res.model_name, house.pipeline);
    assert.equal(res.model_version, house.pipeline_version);
    assert.equal(res.id, "typed-1");
    assert.equal(res.raw_output_contents.length, 0, "typed contents in: typed contents out");
    assert.equal(res.outputs.length, 1);
    const o = res.outputs[0]!;
    assert.deepEqual([o.datatype, o.shape], ["FP32", ["20", "1"]]);
    assert.deepEqual(bits(o.contents!.fp32_contents), bits(houseWallaroo));
    closeToHouseRef(o.contents!.fp32_contents);
    assert.equal(res.parameters.step_model?.string_param, "house-price-estimator");
  });

  it("ModelInfer with raw_input_contents: raw FP32 back, bit for bit the Wallaroo endpoint's; the references", async () => {
    const res = await call<InferResponse>(client, "ModelInfer", { model_name: house.pipeline, inputs: [houseTensor], raw_input_contents: [fp32(houseFlat)] });
    assert.equal(res.model_version, house.pipeline_version, "the running version when none is asked for");
    assert.equal(res.id, "");
    assert.equal(res.outputs[0]!.contents, null, "raw in: no typed contents");
    assert.equal(res.raw_output_contents.length, 1);
    assert.equal(res.raw_output_contents[0]!.byteLength, 20 * 4);
    assert.deepEqual(bits(rawFloats(res.raw_output_contents[0]!)), bits(houseWallaroo));
    closeToHouseRef(rawFloats(res.raw_output_contents[0]!));
  });

  it("ModelInfer INT64 out (the two-step pipeline): int64_contents for typed, 8-byte raw for raw, equal to the references", async () => {
    const typed = await call<InferResponse>(client, "ModelInfer", { model_name: bucketed.pipeline, inputs: [{ ...houseTensor, contents: { fp32_contents: houseFlat } }] });
    assert.equal(typed.outputs[0]!.datatype, "INT64");
    assert.deepEqual(typed.outputs[0]!.shape, ["20", "1"]);
    assert.deepEqual(typed.outputs[0]!.contents!.int64_contents.map(Number), bucketWallaroo);
    assert.deepEqual(typed.outputs[0]!.contents!.int64_contents.map(Number), bucketRef.buckets.flat());
    const raw = await call<InferResponse>(client, "ModelInfer", { model_name: bucketed.pipeline, model_version: bucketed.pipeline_version, inputs: [houseTensor], raw_input_contents: [fp32(houseFlat)] });
    assert.equal(raw.raw_output_contents[0]!.byteLength, 20 * 8);
    assert.deepEqual(rawInt64s(raw.raw_output_contents[0]!), bucketRef.buckets.flat());
  });

  it("the request parameter binary_data_output overrides: raw in with false gives typed contents, typed in with true gives raw", async () => {
    const typedOut = await call<InferResponse>(client, "ModelInfer", {
      model_name: house.pipeline, parameters: { binary_data_output: { bool_param: false } }, inputs: [houseTensor], raw_input_contents: [fp32(houseFlat)],
    });
    assert.equal(typedOut.raw_output_contents.length, 0);
    assert.deepEqual(typedOut.outputs[0]!.contents!.fp32_contents, houseWallaroo);
    const rawOut = await call<InferResponse>(client, "ModelInfer", {
      model_name: house.pipeline, parameters: { binary_data_output: { bool_param: true } }, inputs: [{ ...houseTensor, contents: { fp32_contents: houseFlat } }],
    });
    assert.equal(rawOut.outputs[0]!.contents, null);
    assert.deepEqual(rawFloats(rawOut.raw_output_contents[0]!), houseWallaroo);
  });

  it("a 224×224 image through raw_input_contents: class and probabilities equal the Wallaroo endpoint's; `outputs` chooses one output", async () => {
    const px = imagePixels(0);
    const image = { name: "tensor", datatype: "FP32", shape: [1, 3, 224, 224] };
    const r = await post(`${site.url}/pipelines/${cv.pipeline}`, JSON.stringify([{ tensor: nestImage(px) }]), { "Content-Type": PANDAS });
    assert.equal(r.status, 200);
    const rec = (r.json as InferenceRecord[])[0]!;
    const wClass = rec.outputs[0]!.Int64!.data.map(Number);
    const wProbs = (rec.outputs[1]!.Float!.data as number[]).map(Number);

    const meta = await call<{ outputs: TensorMetadata[] }>(client, "ModelMetadata", { name: cv.pipeline });
    const both = await call<InferResponse>(client, "ModelInfer", { model_name: cv.pipeline, id: "image-0", inputs: [image], raw_input_contents: [Buffer.from(px.buffer, px.byteOffset, px.byteLength)] });
    assert.equal(both.id, "image-0");
    assert.deepEqual(both.outputs.map((o) => [o.name, o.datatype]), meta.outputs.map((o) => [o.name, o.datatype]));
    assert.deepEqual(rawInt64s(both.raw_output_contents[0]!), [imageRef.images[0]!.class]);
    assert.deepEqual(rawInt64s(both.raw_output_contents[0]!), wClass);
    const probs = rawFloats(both.raw_output_contents[1]!);
    assert.equal(probs.length, wProbs.length);
    assert.deepEqual(probs, wProbs);
    imageRef.images[0]!.first10_probabilities.forEach((p, i) => assert.ok(Math.abs(probs[i]! - p) <= 1e-3 * Math.abs(p), `probability ${i}: ${probs[i]} vs ${p}`));

    const pair = Buffer.concat([0, 1].map((i) => { const p = imagePixels(i); return Buffer.from(p.buffer, p.byteOffset, p.byteLength); }));
    const batch = await call<InferResponse>(client, "ModelInfer", { model_name: cv.pipeline, inputs: [{ ...image, shape: [2, 3, 224, 224] }], raw_input_contents: [pair] });
    assert.deepEqual(batch.outputs.map((o) => o.shape[0]), ["2", "2"]);
    assert.deepEqual(rawInt64s(batch.raw_output_contents[0]!), imageRef.images.map((x) => x.class));
    // A batch of two may round differently from one image in ONNX Runtime's kernels: close, not bit for bit.
    const batchProbs = rawFloats(batch.raw_output_contents[1]!);
    assert.equal(batchProbs.length, 2 * wProbs.length);
    wProbs.forEach((p, i) => assert.ok(relDiff(batchProbs[i]!, p) < 1e-5 || Math.abs(batchProbs[i]! - p) < 1e-9, `probability ${i} of the first image: ${batchProbs[i]} vs ${p}`));

    const second = meta.outputs[1]!.name;
    const one = await call<InferResponse>(client, "ModelInfer", { model_name: cv.pipeline, inputs: [image], outputs: [{ name: second }], raw_input_contents: [Buffer.from(px.buffer, px.byteOffset, px.byteLength)] });
    assert.deepEqual(one.outputs.map((o) => o.name), [second]);
    assert.equal(one.raw_output_contents.length, 1);
    assert.deepEqual(rawFloats(one.raw_output_contents[0]!), wProbs);
  });

  it("metadata ferry-split-key and ferry-request-id travel to the inferers as Ferry's NATS headers", async () => {
    const sub = site.client.subscribe(inferSubject(house.pipeline), { max: 1 });
    const seen = (async () => {
      for await (const m of sub) return { split: m.headers?.get("Ferry-Split-Key"), id: m.headers?.get("Ferry-Request-Id") };
      return undefined;
    })();
    await site.client.flush();
    const metadata = new grpc.Metadata();
    metadata.set("ferry-split-key", "key-42");
    metadata.set("ferry-request-id", "grpc-request-7");
    const res = await call<InferResponse>(client, "ModelInfer", { model_name: house.pipeline, inputs: [{ name: "tensor", datatype: "FP32", shape: [1, 18], contents: { fp32_contents: houseRef.rows[3] } }] }, metadata);
    assert.deepEqual(res.outputs[0]!.contents!.fp32_contents, houseWallaroo.slice(3, 4));
    assert.deepEqual(await seen, { split: "key-42", id: "grpc-request-7" });
  });

  it("refusals: unknown model and version are NOT_FOUND; wrong datatype, shape, data count and output are INVALID_ARGUMENT bad_tensor", async () => {
    const infer = (request: object): Promise<Refusal> => refusal(client, "ModelInfer", { model_name: house.pipeline, ...request });
    const typed = { ...houseTensor, contents: { fp32_contents: houseFlat } };
    const cases: [string, object, grpc.status, string][] = [
      ["unknown model", { model_name: "no-such-model", inputs: [typed] }, grpc.status.NOT_FOUND, "unknown_model"],
      ["unknown version", { model_version: "not-a-version", inputs: [typed] }, grpc.status.NOT_FOUND, "unknown_version"],
      ["FP64 for FP32", { inputs: [{ ...houseTensor, datatype: "FP64", contents: { fp64_contents: houseFlat } }] }, grpc.status.INVALID_ARGUMENT, "bad_tensor"],
      ["raw INT32 for FP32", { inputs: [{ ...houseTensor, datatype: "INT32" }], raw_input_contents: [fp32(houseFlat)] }, grpc.status.INVALID_ARGUMENT, "bad_tensor"],
      ["shape [20,17]", { inputs: [{ ...houseTensor, shape: [20, 17], contents: { fp32_contents: houseFlat.slice(0, 340) } }] }, grpc.status.INVALID_ARGUMENT, "bad_tensor"],
      ["35 values for [2,18]", { inputs: [{ ...houseTensor, shape: [2, 18], contents: { fp32_contents: houseFlat.slice(0, 35) } }] }, grpc.status.INVALID_ARGUMENT, "bad_tensor"],
      ["contents in another datatype's field", { inputs: [{ ...houseTensor, contents: { fp64_contents: houseFlat } }] }, grpc.status.INVALID_ARGUMENT, "bad_tensor"],
      ["raw bytes for 19 rows, shape of 20", { inputs: [houseTensor], raw_input_contents: [fp32(houseFlat.slice(0, 19 * 18))] }, grpc.status.INVALID_ARGUMENT, "bad_tensor"],
      ["raw bytes not whole FP32s", { inputs: [houseTensor], raw_input_contents: [Buffer.concat([fp32(houseFlat), Buffer.of(0)])] }, grpc.status.INVALID_ARGUMENT, "bad_tensor"],
      ["unknown input name", { inputs: [{ ...typed, name: "nope" }] }, grpc.status.INVALID_ARGUMENT, "bad_tensor"],
      ["unknown output", { inputs: [typed], outputs: [{ name: "nope" }] }, grpc.status.INVALID_ARGUMENT, "bad_tensor"],
      ["two raw entries for one input", { inputs: [houseTensor], raw_input_contents: [fp32(houseFlat), fp32(houseFlat)] }, grpc.status.INVALID_ARGUMENT, "bad_tensor"],
      ["contents and raw_input_contents", { inputs: [typed], raw_input_contents: [fp32(houseFlat)] }, grpc.status.INVALID_ARGUMENT, "bad_tensor"],
    ];
    for (const [what, request, code, ferryCode] of cases) {
      const r = await infer(request);
      assert.deepEqual({ code: r.code, ferryCode: r.ferryCode }, { code, ferryCode }, `${what}: ${r.details}`);
    }
    const notDatatype = await infer({ inputs: [{ ...houseTensor, datatype: "FLOAT", contents: { fp32_contents: houseFlat } }] });
    assert.deepEqual([notDatatype.code, notDatatype.ferryCode], [grpc.status.INVALID_ARGUMENT, "bad_tensor"]);
    assert.match(notDatatype.details, /datatype "FLOAT"; the model takes FP32/);
    // The site still answers after the refusals.
    const ok = await call<InferResponse>(client, "ModelInfer", { model_name: house.pipeline, inputs: [typed] });
    assert.deepEqual(ok.outputs[0]!.contents!.fp32_contents, houseWallaroo);
  });
});

describe("V2 gRPC when the inferer goes away", () => {
  let site: TestSite;
  let client: grpc.Client;

  before(async () => {
    site = await startTestSite({ manifests: [manifests.houseprice], logger: false, gateway: { grpcPort: 0 } });
    client = new Service(`127.0.0.1:${site.gateway.grpcPort}`, grpc.credentials.createInsecure());
  });
  after(async () => {
    client?.close();
    await site?.stop();
  });

  it("ModelInfer is UNAVAILABLE with no_inferer; then ServerReady is false and ModelReady false at once (a never-served name NOT_FOUND)", async () => {
    await until("ServerReady", async () => (await call<{ ready: boolean }>(client, "ServerReady", {})).ready);
    const typed = { ...houseTensor, contents: { fp32_contents: houseFlat } };
    const ok = await call<InferResponse>(client, "ModelInfer", { model_name: house.pipeline, inputs: [typed] });
    closeToHouseRef(ok.outputs[0]!.contents!.fp32_contents);
    await site.inferer!.stop();
    // The gateway still knows the model from the inferer's last report; the request finds no inferer.
    const gone = await refusal(client, "ModelInfer", { model_name: house.pipeline, inputs: [typed] });
    assert.deepEqual([gone.code, gone.ferryCode], [grpc.status.UNAVAILABLE, "no_inferer"], gone.details);
    await until("ServerReady false", async () => !(await call<{ ready: boolean }>(client, "ServerReady", {})).ready);
    // ModelReady reads the reports afresh: the model the site served is known, and not ready, at once.
    assert.deepEqual(await call(client, "ModelReady", { name: house.pipeline }), { ready: false });
    const meta = await call<{ versions: string[] }>(client, "ModelMetadata", { name: house.pipeline });
    assert.deepEqual(meta.versions, [], "no version runs");
    const never = await refusal(client, "ModelReady", { name: "never-served" });
    assert.deepEqual([never.code, never.ferryCode], [grpc.status.NOT_FOUND, "unknown_model"], never.details);
    assert.deepEqual(await call(client, "ServerLive", {}), { live: true });
  });
});

/** The name a TLS client checks the certificate for (an IP address is no TLS server name). */
const tlsName = { "grpc.ssl_target_name_override": "localhost", "grpc.default_authority": "localhost" };

describe("V2 gRPC over TLS with the gateway's certificate", () => {
  let site: TestSite;
  let gateway: Gateway;
  let ca: CertPair;
  let target: string;

  before(async () => {
    site = await startTestSite({ manifests: [manifests.houseprice] });
    ca = await makeCa("ferry grpc test CA");
    const cert = await makeServerCert(ca, ["127.0.0.1", "localhost"]);
    gateway = await startGateway({ natsUrl: site.nats.url, port: 0, host: "127.0.0.1", logger: quiet, https: cert, grpcPort: 0 });
    target = `127.0.0.1:${gateway.grpcPort}`;
  });
  after(async () => {
    await gateway?.stop();
    await site?.stop();
  });

  it("a client trusting the CA calls every RPC; ModelInfer answers the references", async () => {
    const client = new Service(target, grpc.credentials.createSsl(Buffer.from(ca.cert)), tlsName);
    try {
      assert.deepEqual(await call(client, "ServerLive", {}), { live: true });
      await until("ServerReady over TLS", async () => (await call<{ ready: boolean }>(client, "ServerReady", {})).ready);
      assert.equal((await call<{ name: string }>(client, "ServerMetadata", {})).name, "ferry");
      assert.deepEqual(await call(client, "ModelReady", { name: house.pipeline }), { ready: true });
      assert.deepEqual((await call<{ versions: string[] }>(client, "ModelMetadata", { name: house.pipeline })).versions, [house.pipeline_version]);
      const res = await call<InferResponse>(client, "ModelInfer", { model_name: house.pipeline, inputs: [houseTensor], raw_input_contents: [fp32(houseFlat)] });
      closeToHouseRef(rawFloats(res.raw_output_contents[0]!));
    } finally {
      client.close();
    }
  });

  it("the gRPC port speaks TLS 1.2 or later with h2, and refuses TLS 1.1", async () => {
    const port = gateway.grpcPort!;
    const ok = await tlsHandshake(port, { ca: ca.cert, ALPNProtocols: ["h2"] });
    assert.ok(ok.ok, JSON.stringify(ok));
    assert.match(String(ok.protocol), /^TLSv1\.[23]$/);
    const old = await tlsHandshake(port, { ca: ca.cert, minVersion: "TLSv1", maxVersion: "TLSv1.1", ciphers: "DEFAULT@SECLEVEL=0" });
    assert.equal(old.ok, false, "TLS 1.1 was accepted");
  });

  it("a plaintext client and a client trusting another CA get nowhere", async () => {
    const other = await makeCa("another CA");
    for (const [what, credentials] of [["plaintext", grpc.credentials.createInsecure()], ["another CA", grpc.credentials.createSsl(Buffer.from(other.cert))]] as const) {
      const client = new Service(target, credentials, tlsName);
      try {
        const r = await refusal(client, "ServerLive", {});
        assert.equal(r.code, grpc.status.UNAVAILABLE, `${what}: ${r.details}`);
        if (what === "another CA") assert.match(r.details, /certificate|self.signed|verify/i, r.details);
      } finally {
        client.close();
      }
    }
  });
});

/** Debian's grpcio and grpc-tools under /usr/bin/python3 (not a pyenv python3 on PATH). */
const PYTHON = "/usr/bin/python3";

/** Why the stock Python client cannot run: false when it can. Skipped loudly outside CI; in CI it runs and fails. */
function pythonGrpcSkip(): string | false {
  const probe = spawnSync(PYTHON, ["-c", "import grpc, grpc_tools.protoc"], { encoding: "utf8" });
  if (probe.status === 0 || isCi()) return false;
  const why = `${PYTHON} lacks grpc or grpc_tools, so the stock Python gRPC client test is SKIPPED; install them with: apt-get install -y python3-grpcio python3-grpc-tools`;
  process.stderr.write(`\n*** ${why} ***\n\n`);
  return why;
}

/** Runs a command without blocking the event loop (the gRPC server under test is in this process); its stdout, or the test fails. */
function ran(what: string, args: string[], input = ""): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, args, { stdio: ["pipe", "pipe", "pipe"], timeout: 60_000 });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => { stdout += d; });
    child.stderr.setEncoding("utf8").on("data", (d: string) => { stderr += d; });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`${what} failed (exit ${code ?? signal}):\n${stderr}`));
    });
    child.stdin.end(input);
  });
}

describe("V2 gRPC with a stock client: Python grpcio with stubs compiled from the .proto by grpc_tools.protoc", { skip: pythonGrpcSkip() }, () => {
  let site: TestSite;
  let stubs: string;

  before(async () => {
    site = await startTestSite({ manifests: [manifests.houseprice, manifests.bucketed], gateway: { grpcPort: 0 } });
    stubs = await mkdtemp(join(tmpdir(), "ferry-grpc-py-"));
  });
  after(async () => {
    await site?.stop();
    if (stubs) await rm(stubs, { recursive: true, force: true });
  });

  it("calls every RPC; its ModelInfer answers (typed and raw, FP32 and INT64) equal the Wallaroo endpoint's", async () => {
    await ran("protoc", ["-m", "grpc_tools.protoc", "-I", protoDir, `--python_out=${stubs}`, `--grpc_python_out=${stubs}`, "grpc_service.proto"]);
    await until("ServerReady", async () => (await fetch(`${site.url}/v2/health/ready`)).status === 200);
    const rows = houseRef.rows.slice(0, 5);
    const houseW = await wallaroo(site.url, house.pipeline, houseRecords(rows), 0);
    const bucketW = await wallaroo(site.url, bucketed.pipeline, houseRecords(rows), 0);
    const script = join(root, "test", "python", "v2_grpc_client.py");
    const stdout = await ran("the Python client", [script, stubs, `127.0.0.1:${site.gateway.grpcPort}`], JSON.stringify({ rows }));
    const out = JSON.parse(stdout) as {
      live: boolean; ready: boolean; model_ready: boolean;
      server: { name: string; extensions: string[] };
      model: { name: string; versions: string[]; inputs: { name: string; datatype: string; shape: number[] }[]; outputs: { datatype: string }[] };
      typed: { id: string; model_name: string; model_version: string; datatype: string; shape: number[]; values: number[]; raw_count: number };
      raw: { datatype: string; shape: number[]; values: number[]; typed_count: number };
      bucketed_raw: { datatype: string; shape: number[]; values: number[] };
      unknown: { code: string; ferry_code: string } | null;
    };
    assert.deepEqual([out.live, out.ready, out.model_ready], [true, true, true]);
    assert.equal(out.server.name, "ferry");
    assert.deepEqual(out.server.extensions, ["binary_tensor_data"]);
    assert.equal(out.model.name, house.pipeline);
    assert.deepEqual(out.model.versions, [house.pipeline_version]);
    assert.deepEqual([out.model.inputs[0]!.name, out.model.inputs[0]!.datatype, out.model.inputs[0]!.shape.at(-1)], ["tensor", "FP32", 18]);
    assert.deepEqual(out.model.outputs.map((o) => o.datatype), ["FP32"]);

    assert.deepEqual([out.typed.id, out.typed.model_name, out.typed.model_version], ["py-typed", house.pipeline, house.pipeline_version]);
    assert.deepEqual([out.typed.datatype, out.typed.shape, out.typed.raw_count], ["FP32", [5, 1], 0]);
    assert.deepEqual(out.typed.values, houseW);
    assert.deepEqual([out.raw.datatype, out.raw.shape, out.raw.typed_count], ["FP32", [5, 1], 0]);
    assert.deepEqual(out.raw.values, houseW);
    closeToHouseRef(out.raw.values, 5);
    assert.deepEqual([out.bucketed_raw.datatype, out.bucketed_raw.shape], ["INT64", [5, 1]]);
    assert.deepEqual(out.bucketed_raw.values, bucketW);
    assert.deepEqual(out.bucketed_raw.values, bucketRef.buckets.slice(0, 5).flat());
    assert.deepEqual(out.unknown, { code: "NOT_FOUND", ferry_code: "unknown_model" });
  });
});
