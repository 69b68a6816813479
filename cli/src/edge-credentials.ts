import { createHash } from "node:crypto";
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FerryError, type EdgeBundle, type EdgeCredentials } from "@ferry/contracts";
import { readSeed, saveSeed, seedPath } from "./edge-identity.js";

/** The credentials file as kept in the data folder: what `POST /join` answered, and which bundle it came from. */
interface StoredCredentials extends EdgeCredentials {
  /** sha256 of the join token traded for these credentials: a new bundle for the same edge joins again. */
  join_token_sha256?: string;
}

/** A joined edge's stored state: where it links, and the seed its leaf link signs in with. */
export interface JoinedEdge {
  credentials: EdgeCredentials;
  seed: string;
}

/** Where an edge keeps its credentials: `<data>/edge/credentials.json` (mode 0600, folder 0700). */
export function credentialsPath(dataDir: string): string {
  return join(dataDir, "edge", "credentials.json");
}

function tokenHash(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** Checks a `POST /join` answer (or the stored file) field by field; throws FerryError `bad_gateway`. */
export function parseCredentials(value: unknown, edge: string, source: string): EdgeCredentials {
  const v = (value ?? {}) as Record<string, unknown>;
  const strings = ["edge_name", "nkey", "leaf_url", "hub_domain", "pipeline", "ops_url"] as const;
  const bad = strings.filter((k) => typeof v[k] !== "string" || v[k] === "");
  if (typeof v.joined_at !== "number") bad.push("joined_at" as never);
  if (bad.length > 0) throw new FerryError("bad_gateway", `${source} lacks ${bad.join(", ")}`);
  if (v.edge_name !== edge) throw new FerryError("bad_gateway", `${source} names edge ${JSON.stringify(v.edge_name)}, not ${JSON.stringify(edge)}`);
  const out = Object.fromEntries([...strings, "joined_at"].map((k) => [k, v[k]]));
  return out as unknown as EdgeCredentials;
}

/**
 * The stored credentials and seed if they belong to this bundle's edge (and, where the file records it,
 * to this bundle's token); undefined when there are none or they are another edge's or an older bundle's.
 * Throws `unauthorized` for credentials the hub no longer takes (a password from before nkey identities,
 * or a lost seed): the edge needs a new bundle.
 */
export async function readCredentials(dataDir: string, bundle: EdgeBundle): Promise<JoinedEdge | undefined> {
  let text: string;
  try {
    text = await readFile(credentialsPath(dataDir), "utf8");
  } catch {
    return undefined;
  }
  const stored = JSON.parse(text) as StoredCredentials & { password?: unknown };
  if (stored.edge_name !== bundle.EDGE_NAME) return undefined;
  if (stored.join_token_sha256 && stored.join_token_sha256 !== tokenHash(bundle.JOIN_TOKEN)) return undefined;
  const renew = `ask Ops to re-add edge ${bundle.EDGE_NAME} (DELETE, then POST /edges) and start with the new EDGE_BUNDLE`;
  if (typeof stored.nkey !== "string" && stored.password !== undefined) {
    throw new FerryError("unauthorized", `${credentialsPath(dataDir)} holds a leaf password from before edge nkey identities, which the Ops hub no longer accepts: ${renew}`);
  }
  const credentials = parseCredentials(stored, bundle.EDGE_NAME, credentialsPath(dataDir));
  const seed = await readSeed(dataDir, credentials.nkey);
  if (!seed) throw new FerryError("unauthorized", `${seedPath(dataDir)} is missing or is not the seed of ${credentials.nkey}, this edge's identity: ${renew}`);
  return { credentials, seed };
}

/** Writes the seed and then the credentials, readable by the owner only, each replaced in one step. */
export async function saveCredentials(dataDir: string, bundle: EdgeBundle, joined: JoinedEdge): Promise<void> {
  await saveSeed(dataDir, joined.seed);
  const path = credentialsPath(dataDir);
  const dir = join(dataDir, "edge");
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const stored: StoredCredentials = { ...joined.credentials, join_token_sha256: tokenHash(bundle.JOIN_TOKEN) };
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
}
