import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (tests run from test/dist/). */
export const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const models = join(root, "models");
export const manifests = {
  houseprice: join(models, "manifests", "houseprice.json"),
  cv: join(models, "manifests", "cv-demo.json"),
  bucketed: join(models, "manifests", "houseprice-bucketed.json"),
  cvHeavy: join(models, "manifests", "cv-heavy.json"),
};

/** The generator's reference rows and outputs for the house-price model. */
export interface HouseReference {
  rows: number[][];
  outputs: number[][];
}
export const houseRef = JSON.parse(readFileSync(join(models, "house-price-reference.json"), "utf8")) as HouseReference;
export const bucketRef = JSON.parse(readFileSync(join(models, "houseprice-bucketed-reference.json"), "utf8")) as { buckets: number[][] };

/** The generator's reference images and classes. */
export interface ImageReference {
  images: { file: string; class: number; first10_probabilities: number[] }[];
}
export const imageRef = JSON.parse(readFileSync(join(models, "image-reference.json"), "utf8")) as ImageReference;
/** The same images through the compute-bound bench classifier. */
export const heavyImageRef = JSON.parse(readFileSync(join(models, "image-heavy-reference.json"), "utf8")) as ImageReference;

/** Raw float32 pixels of a reference image ([1,3,224,224]). */
export function imagePixels(i: number): Float32Array {
  const raw = readFileSync(join(models, imageRef.images[i]!.file));
  return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
}
