import { readFile } from "node:fs/promises";
import ort from "onnxruntime-node";
import { median, msSince, summarize, type Latency } from "./stats.js";

/** Baseline (a): session.run called directly, no HTTP, no serialisation. */
export interface InProcessRun {
  chains: number;
  seconds: number;
  runs: number;
  runsPerS: number;
  latency: Latency;
}

/** Same settings as Ferry's inferer (--threads 1). */
async function openSession(model: string): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: "all" });
}

/** `chains` promise chains each calling `once` back to back until the deadline; returns per-call ms. */
async function runChains(once: () => Promise<unknown>, chains: number, seconds: number): Promise<number[]> {
  const deadline = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
  const samples: number[] = [];
  const chain = async (): Promise<void> => {
    while (process.hrtime.bigint() < deadline) {
      const t0 = process.hrtime.bigint();
      await once();
      samples.push(msSince(t0));
    }
  };
  await Promise.all(Array.from({ length: chains }, chain));
  return samples;
}

/** House-price model, batch 1, one tensor built per call (as a caller would), at each chain count. */
export async function benchHouseInProcess(model: string, row: readonly number[], chainCounts: readonly number[], seconds: number, warmupSeconds: number): Promise<{ runs: InProcessRun[]; value: number }> {
  const session = await openSession(model);
  try {
    const input = session.inputNames[0];
    const values = Float32Array.from(row);
    const once = (): Promise<ort.InferenceSession.OnnxValueMapType> => session.run({ [input]: new ort.Tensor("float32", values, [1, values.length]) });
    const value = Number((await once())[session.outputNames[0]]?.data[0]);
    const runs: InProcessRun[] = [];
    for (const chains of chainCounts) {
      await runChains(once, chains, warmupSeconds);
      const t0 = process.hrtime.bigint();
      const samples = await runChains(once, chains, seconds);
      const wall = msSince(t0) / 1000;
      runs.push({ chains, seconds: wall, runs: samples.length, runsPerS: samples.length / wall, latency: summarize(samples) });
    }
    return { runs, value };
  } finally {
    await session.release();
  }
}

/** Median ms of `count` sequential runs of the image classifier on the given raw [1,3,224,224] floats. */
export async function imageInProcess(model: string, f32Path: string, count: number, warmups: number): Promise<{ medianMs: number; classification: number | undefined }> {
  const session = await openSession(model);
  try {
    const bytes = await readFile(f32Path);
    // Copy into an aligned buffer (a Buffer's byteOffset need not be a multiple of 4); the file is
    // little-endian like every machine this runs on.
    const floats = new Float32Array(bytes.byteLength / 4);
    new Uint8Array(floats.buffer).set(bytes);
    const feeds = { [session.inputNames[0]]: new ort.Tensor("float32", floats, [1, 3, 224, 224]) };
    let out: ort.InferenceSession.OnnxValueMapType = {};
    for (let i = 0; i < warmups; i++) out = await session.run(feeds);
    const samples: number[] = [];
    for (let i = 0; i < count; i++) {
      const t0 = process.hrtime.bigint();
      out = await session.run(feeds);
      samples.push(msSince(t0));
    }
    const cls = out.classification?.data[0];
    return { medianMs: median(samples), classification: cls === undefined ? undefined : Number(cls) };
  } finally {
    await session.release();
  }
}
