import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** The demo pipelines served when no --pipeline is given. */
export const demoManifests = ["houseprice.json", "cv-demo.json", "houseprice-bucketed.json"]
  .map((f) => join(repoRoot, "models", "manifests", f));
