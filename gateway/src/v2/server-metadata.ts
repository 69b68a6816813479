import { packageVersion } from "../openapi.js";

/** The V2 server metadata: Ferry's name and version, and the protocol extensions it speaks. */
export function serverMetadata(): { name: string; version: string; extensions: string[] } {
  return { name: "ferry", version: packageVersion(), extensions: ["binary_tensor_data"] };
}
