// Clients of the V2 bench: request bodies for the REST API, a gRPC load loop, and one-at-a-time latency.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { houseRow, repoRoot } from "./config.js";
import { median } from "./stats.js";

/** V2 REST JSON body of one house-price row. */
export const v2HouseBody = JSON.stringify({ inputs: [{ name: "tensor", datatype: "FP32", shape: [1, 18], data: houseRow }] });
export const jsonHeaders = { "content-type": "application/json" };

/** The reference image as raw little-endian FP32 (what the binary extension sends). */
export async function imageBytes(): Promise<Buffer> {
  return readFile(join(repoRoot, "models", "data", "image_224x224_0.f32"));
}

/** An image request with the binary data extension: JSON header, then the raw tensor; outputs raw too. */
export function v2ImageBinary(raw: Buffer): { body: Buffer; headers: Record<string, string> } {
  const header = Buffer.from(JSON.stringify({
    inputs: [{ name: "tensor", datatype: "FP32", shape: [1, 3, 224, 224], parameters: { binary_data_size: raw.byteLength } }],
    parameters: { binary_data_output: true },
  }));
  return { body: Buffer.concat([header, raw]), headers: { "content-type": "application/octet-stream", "inference-header-content-length": String(header.byteLength) } };
}

/** The same image as a JSON tensor (150,528 numbers as text). */
export function v2ImageJson(raw: Buffer): string {
  const values = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  return JSON.stringify({ inputs: [{ name: "tensor", datatype: "FP32", shape: [1, 3, 224, 224], data: Array.from(values) }] });
}

/** Median ms of `count` sequential POSTs (after `warmups`), each checked for 200. */
export async function sequentialMs(url: string, body: string | Buffer, headers: Record<string, string>, count: number, warmups: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < warmups + count; i++) {
    const t0 = process.hrtime.bigint();
    const res = await fetch(url, { method: "POST", body, headers });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`POST ${url} answered ${res.status}`);
    if (i >= warmups) times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(times);
}

type InferClient = grpc.Client & { ModelInfer(req: unknown, cb: (err: grpc.ServiceError | null, res: unknown) => void): void };

/** A stock @grpc/grpc-js client of the protocol's service. */
export function grpcClient(address: string): InferClient {
  const def = protoLoader.loadSync(join(repoRoot, "gateway", "proto", "grpc_service.proto"), { keepCase: true, longs: Number, defaults: true });
  const proto = grpc.loadPackageDefinition(def) as unknown as { inference: { GRPCInferenceService: new (a: string, c: grpc.ChannelCredentials) => InferClient } };
  return new proto.inference.GRPCInferenceService(address, grpc.credentials.createInsecure());
}

/** `streams` concurrent ModelInfer loops on one channel for `seconds`: completed calls per second. */
export async function grpcLoad(client: InferClient, request: unknown, streams: number, seconds: number): Promise<{ rps: number; errors: number }> {
  const end = Date.now() + seconds * 1000;
  let done = 0;
  let errors = 0;
  const loop = async (): Promise<void> => {
    while (Date.now() < end) {
      await new Promise<void>((resolve) => client.ModelInfer(request, (err) => { if (err) errors++; else done++; resolve(); }));
    }
  };
  await Promise.all(Array.from({ length: streams }, loop));
  return { rps: done / seconds, errors };
}

/** The house-price row as a gRPC request with typed contents. */
export const grpcHouseRequest = { model_name: "edge-houseprice", inputs: [{ name: "tensor", datatype: "FP32", shape: [1, 18], contents: { fp32_contents: houseRow } }] };
