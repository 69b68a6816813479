import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Repo root: this file runs as bench/dist/helpers/config.js. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

export const paths = {
  cliMain: join(repoRoot, "cli", "dist", "main.js"),
  bareServer: join(repoRoot, "bench", "dist", "bare-server.js"),
  houseModel: join(repoRoot, "models", "house-price-estimator.onnx"),
  imageModel: join(repoRoot, "models", "image-classifier.onnx"),
  houseManifest: join(repoRoot, "models", "manifests", "houseprice.json"),
  cvManifest: join(repoRoot, "models", "manifests", "cv-demo.json"),
  cvHeavyManifest: join(repoRoot, "models", "manifests", "cv-heavy.json"),
  imageArrow: join(repoRoot, "models", "data", "image_224x224.arrow"),
  imageF32: join(repoRoot, "models", "data", "image_224x224_0.f32"),
  results: join(repoRoot, "bench", "results"),
};

export const houseRow = [4.0, 2.5, 2900.0, 5505.0, 2.0, 0.0, 0.0, 3.0, 8.0, 2900.0, 0.0, 47.6063, -122.02, 2970.0, 5251.0, 12.0, 0.0, 0.0];
/** The body exactly as the brief gives it (float literals kept, e.g. "4.0"). */
export const houseBody = `[{"tensor": [${houseRow.map((x) => (Number.isInteger(x) ? x.toFixed(1) : String(x))).join(",")}]}]`;
export const houseHeaders = { "content-type": "application/json; format=pandas-records" };
export const arrowHeaders = { "content-type": "application/vnd.apache.arrow.file" };

export const pipelines = { house: "edge-houseprice", cv: "edge-cv-demo", cvHeavy: "edge-cv-heavy" };

/** A positive number from the environment variable `name`, or `fallback` when it is unset. */
export function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got ${JSON.stringify(raw)}`);
  return n;
}

/** Run lengths; BENCH_SECONDS and BENCH_WARMUP_SECONDS shorten or lengthen the whole bench. */
export const timing = {
  seconds: envNumber("BENCH_SECONDS", 8),
  warmupSeconds: envNumber("BENCH_WARMUP_SECONDS", 2),
  imageRequests: Math.round(envNumber("BENCH_IMAGE_REQUESTS", 50)),
  imageWarmups: 5,
};

export const concurrencies = [1, 32] as const;
/** Connections of the images/s figure. */
export const imageConnections = 8;
