import { packageVersion } from "../openapi.js";

/** Read once: the version is the package's, and `GET /v2` should not read a file per request. */
const metadata = { name: "ferry", version: packageVersion(), extensions: ["binary_tensor_data"] } as const;

/** The V2 server metadata: Ferry's name and version, and the protocol extensions it speaks. */
export function serverMetadata(): { name: string; version: string; extensions: string[] } {
  return { ...metadata, extensions: [...metadata.extensions] };
}
