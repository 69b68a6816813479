import { FerryError } from "./errors.js";
import { isSubjectToken } from "./subjects.js";

/** What an edge needs to join the Ops hub once (Wallaroo's EDGE_BUNDLE, decoded). */
export interface EdgeBundle {
  BUNDLE_VERSION: string;
  /** Unique edge name: also its JetStream domain and its log records' partition. */
  EDGE_NAME: string;
  /** One-time token, traded for the edge's credentials at `POST https://<OPSCENTER_HOST>/join`. */
  JOIN_TOKEN: string;
  /** `host:port` of the Ops API. */
  OPSCENTER_HOST: string;
  /** The published pipeline version the edge runs: `ferry://<OPSCENTER_HOST>/pipelines/<name>:<pipeline_version>`. */
  PIPELINE_URL: string;
  WORKSPACE_ID: string;
  /**
   * SHA-256 (hex) of the hub's CA certificate: the edge joins only a hub whose TLS chain holds this CA
   * and whose certificate it signed. Absent: the hub's certificate must be one the system trusts.
   */
  OPSCENTER_CA_SHA256?: string;
}

/** The spec's six variables, all required. */
const KEYS = ["BUNDLE_VERSION", "EDGE_NAME", "JOIN_TOKEN", "OPSCENTER_HOST", "PIPELINE_URL", "WORKSPACE_ID"] as const;
/** Ferry's additions. */
const OPTIONAL_KEYS = ["OPSCENTER_CA_SHA256"] as const;

/** base64 of `export KEY=value` lines, as the spec's `{"edgeBundle": ...}` carries it. */
export function encodeEdgeBundle(b: EdgeBundle): string {
  const keys = [...KEYS, ...OPTIONAL_KEYS.filter((k) => b[k])];
  const bytes = new TextEncoder().encode(keys.map((k) => `export ${k}=${b[k]}\n`).join(""));
  return btoa(Array.from(bytes, (c) => String.fromCharCode(c)).join(""));
}

/** base64 (standard or URL-safe, padded or not, whitespace ignored) to UTF-8 text; "" when it is not base64. */
function base64Text(base64: string): string {
  const clean = base64.replace(/\s+/g, "").replace(/-/g, "+").replace(/_/g, "/").replace(/=+$/, "");
  try {
    const binary = atob(clean + "=".repeat((4 - (clean.length % 4)) % 4));
    return new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
  } catch {
    return "";
  }
}

/** Reads an EDGE_BUNDLE; throws FerryError `bad_request` saying what is missing or wrong. */
export function decodeEdgeBundle(base64: string): EdgeBundle {
  const text = base64Text(base64);
  const values: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^\s*(?:export\s+)?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m) values[m[1]!] = m[2]!.trim().replace(/^"(.*)"$/, "$1");
  }
  const missing = KEYS.filter((k) => !values[k]);
  if (missing.length > 0) throw new FerryError("bad_request", `EDGE_BUNDLE lacks ${missing.join(", ")} (is it the base64 from POST /edges?)`);
  if (!isSubjectToken(values.EDGE_NAME!)) throw new FerryError("bad_request", `EDGE_BUNDLE: EDGE_NAME ${JSON.stringify(values.EDGE_NAME)} is not a name of letters, digits, _ and -`);
  if (values.OPSCENTER_CA_SHA256 !== undefined && !/^(?:[0-9a-fA-F]{2}:?){32}$/.test(values.OPSCENTER_CA_SHA256)) {
    throw new FerryError("bad_request", "EDGE_BUNDLE: OPSCENTER_CA_SHA256 is not a SHA-256 fingerprint (64 hex digits)");
  }
  const present = [...KEYS, ...OPTIONAL_KEYS.filter((k) => values[k])];
  return Object.fromEntries(present.map((k) => [k, values[k]!])) as unknown as EdgeBundle;
}

/** The pipeline name and version a PIPELINE_URL names. */
export function parsePipelineUrl(url: string): { pipeline: string; version: string } {
  const m = /\/pipelines\/([A-Za-z0-9_-]{1,128}):([0-9a-fA-F-]{36})$/.exec(url);
  if (!m) throw new FerryError("bad_request", `PIPELINE_URL ${JSON.stringify(url)} does not name pipelines/<name>:<version>`);
  return { pipeline: m[1]!, version: m[2]! };
}

/** Body of `POST /join` on the Ops API. */
export interface JoinRequest {
  edge_name: string;
  join_token: string;
  /**
   * The public key (`U...`) of the user nkey the edge made for this join: its leaf link signs in with
   * the matching seed, which never leaves the edge. The hub keeps only this public key.
   */
  nkey: string;
}

/**
 * What `POST /join` answers: where and how the edge links (kept in its data folder, mode 0600). No
 * secret: the edge's identity is the nkey it sent, whose seed it keeps.
 */
export interface EdgeCredentials {
  edge_name: string;
  /** The public key the hub now accepts on the leaf link (the one the join sent). */
  nkey: string;
  /** Where the edge's nats-server links to the hub: `nats-leaf://host:port`, over TLS checked against the hub's CA. */
  leaf_url: string;
  /** The hub's JetStream domain (`hub`). */
  hub_domain: string;
  /** The pipeline the edge follows. */
  pipeline: string;
  /** The Ops API, `https://host:port`. */
  ops_url: string;
  /** ms since epoch. */
  joined_at: number;
}

/** What an edge reports on `ferry.ops.heartbeat.<edge>` (and Ops answers with {@link HeartbeatReply}). */
export interface Heartbeat {
  edge: string;
  /** The pipeline versions the edge serves now. */
  pipelines: { name: string; version?: string; status: string }[];
}

/** Ops' answer to a heartbeat. */
export interface HeartbeatReply {
  ok: boolean;
  /** Set when the edge is not (or no longer) registered: why. */
  detail?: string;
}

/**
 * What the hub says of an edge identity (an nkey) when the edge asks (`POST /edges/{name}/status`):
 * `joined`: accepted; `lapsed`: it made no contact within the contact period; `revoked`: the hub does not
 * accept this identity (the edge was removed, or re-added with a new one). Lapsed and revoked edges
 * need a new EDGE_BUNDLE.
 */
export type EdgeStanding = "joined" | "lapsed" | "revoked";

/**
 * Body of `POST /edges/{name}/status`: a question only the holder of the edge's seed can ask. `signature`
 * is base64url of the nkey's ed25519 signature of {@link edgeStatusMessage}(name, nonce).
 */
export interface EdgeStatusRequest {
  nkey: string;
  /** 16 to 128 characters of the edge's choosing (fresh each time). */
  nonce: string;
  signature: string;
}

/** Answer of `POST /edges/{name}/status`. */
export interface EdgeStatusReply {
  edge: string;
  state: EdgeStanding;
}

/** The text an edge signs to ask its standing (the name and route bound in, so a signature serves no other question). */
export function edgeStatusMessage(edge: string, nonce: string): string {
  return `ferry-edge-status\n${edge}\n${nonce}`;
}

/** What `ferry.link.status` answers on an edge: the state of its link to the Ops hub. */
export interface LinkStatus {
  /** False for a site that was never joined to a hub. */
  joined: boolean;
  edge?: string;
  /**
   * `up`: the last heartbeat was answered; `down`: the hub is unreachable or refuses the link for a
   * reason not known (yet); `revoked` / `lapsed`: the hub said it no longer accepts this edge's identity
   * (removed by Ops / no contact within the contact period): it needs a new EDGE_BUNDLE.
   */
  link: "up" | "down" | "standalone" | "revoked" | "lapsed";
  /** ms since epoch of the last answered heartbeat. */
  last_contact?: number;
  detail?: string;
}
