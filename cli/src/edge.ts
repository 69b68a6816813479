import { FerryError, LeafDenied, HubDomain, decodeEdgeBundle, parsePipelineUrl, type EdgeBundle, type EdgeCredentials, type EdgeStanding, type JoinRequest } from "@ferry/contracts";
import type { LeafRemote } from "@ferry/natsd";
import { readFile } from "node:fs/promises";
import type { Logger } from "pino";
import { fetchTrusting } from "@ferry/runtime";
import { parseCredentials, readCredentials, saveCredentials, type JoinedEdge } from "./edge-credentials.js";
import { askStanding, newIdentity } from "./edge-identity.js";
import { hubCa, hubCaPath } from "./hub-trust.js";

/** A site started from an EDGE_BUNDLE. */
export interface EdgeSetup {
  bundle: EdgeBundle;
  /** The edge's name: its JetStream domain and its log records' partition. */
  name: string;
  /** The pipeline it follows (the credentials', or the bundle's PIPELINE_URL before the first join). */
  pipeline: string;
  hubDomain: string;
  /** Undefined while the edge has not joined yet (the hub was unreachable at start). */
  credentials: EdgeCredentials | undefined;
  /** The hub's CA (PEM file) the leaf link checks the hub against; undefined: the system's CAs (a bundle without OPSCENTER_CA_SHA256). */
  hubCaFile?: string | undefined;
  /** The seed of the edge's nkey, once joined: its leaf link signs in with it (never sent to the hub). */
  seed?: string | undefined;
  /** Set by the link service: called when the site's server logs that the hub refused the leaf link. */
  onLeafRefused?: (() => void) | undefined;
}

/** Wait between join attempts while the hub is unreachable, ms. */
export const JOIN_RETRY_MS = 30_000;

/** Whether a failed TLS connection failed because the server's certificate did not check out. */
function isCertificateError(err: unknown): boolean {
  const code = String((err as { cause?: { code?: unknown } }).cause?.code ?? "");
  return /CERT|SIGNATURE|ALTNAME|SELF_SIGNED|ISSUER/.test(code);
}

/**
 * Makes the edge's nkey and trades the bundle's one-time token and the key's public part for where to
 * link, at `POST https://<OPSCENTER_HOST>/join`, checking the hub's certificate against `ca` (PEM; the
 * system's CAs without it). Resolves to the hub's answer and the seed (not sent). Throws FerryError
 * `unauthorized` when the hub refuses the token (a new bundle is needed), `untrusted_hub` when its
 * certificate does not check out, and `unavailable` when the hub cannot be reached or fails (worth trying again).
 */
export async function joinHub(bundle: EdgeBundle, ca: string | undefined, timeoutMs = 10_000): Promise<JoinedEdge> {
  const url = `https://${bundle.OPSCENTER_HOST}/join`;
  const identity = newIdentity();
  const body: JoinRequest = { edge_name: bundle.EDGE_NAME, join_token: bundle.JOIN_TOKEN, nkey: identity.nkey };
  let res: Response;
  try {
    res = await (ca ? fetchTrusting(ca) : fetch)(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const cause = (err as Error & { cause?: Error }).cause?.message ?? (err as Error).message;
    if (isCertificateError(err)) throw new FerryError("untrusted_hub", `the Ops hub at ${url} presented a certificate that does not check out against ${ca ? "the CA the bundle pins" : "the system's CAs"} (${cause}); not joining`, { cause: err });
    throw new FerryError("unavailable", `cannot reach the Ops hub at ${url}: ${cause}`, { cause: err });
  }
  const reply = await res.json().catch(() => undefined) as { error?: string } | undefined;
  if (res.status === 401) {
    throw new FerryError("unauthorized", `the Ops hub refused edge ${bundle.EDGE_NAME}'s join token (${reply?.error ?? "used, expired or unknown"}): ask Ops for a new EDGE_BUNDLE`);
  }
  if (res.status >= 500) throw new FerryError("unavailable", `the Ops hub answered ${res.status} at ${url}${reply?.error ? `: ${reply.error}` : ""}`);
  if (!res.ok) throw new FerryError("bad_request", `the Ops hub refused the join of edge ${bundle.EDGE_NAME} (${res.status}${reply?.error ? `: ${reply.error}` : ""})`);
  const credentials = parseCredentials(reply, bundle.EDGE_NAME, `the Ops hub's answer at ${url}`);
  if (credentials.nkey !== identity.nkey) throw new FerryError("bad_gateway", `the Ops hub's answer at ${url} names nkey ${credentials.nkey}, not the one this edge sent`);
  return { credentials, seed: identity.seed };
}

/**
 * Reads the bundle and the edge's stored credentials, joining the hub when there are none. A refused
 * token is fatal; an unreachable hub is not: the site starts without a link (see {@link joinInBackground}).
 */
export async function prepareEdge(bundleBase64: string, dataDir: string, log: Logger): Promise<EdgeSetup> {
  const bundle = decodeEdgeBundle(bundleBase64);
  const base = { bundle, name: bundle.EDGE_NAME, pipeline: parsePipelineUrl(bundle.PIPELINE_URL).pipeline, hubDomain: HubDomain };
  const stored = await readCredentials(dataDir, bundle);
  if (stored) return { ...base, ...joinedFields(stored), hubCaFile: await caFileFor(dataDir, bundle) };
  try {
    const hubCaFile = await caFileFor(dataDir, bundle);
    const joined = await joinHub(bundle, await caOf(hubCaFile));
    await saveCredentials(dataDir, bundle, joined);
    log.info({ edge: bundle.EDGE_NAME, ops: joined.credentials.ops_url, pipeline: joined.credentials.pipeline, nkey: joined.credentials.nkey, hubCa: hubCaFile }, "joined the Ops hub");
    return { ...base, ...joinedFields(joined), hubCaFile };
  } catch (err) {
    if (!(err instanceof FerryError) || err.code !== "unavailable") throw err;
    log.warn({ edge: bundle.EDGE_NAME, err: err.message, retryMs: JOIN_RETRY_MS }, "cannot join the Ops hub yet; serving locally without a link and retrying");
    return { ...base, credentials: undefined };
  }
}

/** What a join (or the stored one) sets on an {@link EdgeSetup}. */
function joinedFields(j: JoinedEdge): Pick<EdgeSetup, "pipeline" | "hubDomain" | "credentials" | "seed"> {
  return { pipeline: j.credentials.pipeline, hubDomain: j.credentials.hub_domain, credentials: j.credentials, seed: j.seed };
}

/** The hub's CA file for this bundle (fetched with the pin checked when not stored yet); undefined when the bundle pins none. */
async function caFileFor(dataDir: string, bundle: EdgeBundle): Promise<string | undefined> {
  return (await hubCa(dataDir, bundle)) ? hubCaPath(dataDir) : undefined;
}

async function caOf(file: string | undefined): Promise<string | undefined> {
  return file ? readFile(file, "utf8") : undefined;
}

/**
 * The site server's leaf link to the hub, over TLS checked against the hub's CA, signed in with the
 * edge's nkey seed: only heartbeats and JetStream cross it.
 */
export function leafRemoteOf(credentials: EdgeCredentials, seed: string, hubCaFile: string | undefined): LeafRemote {
  return {
    url: credentials.leaf_url, nkeySeed: seed, tls: { caFile: hubCaFile },
    denyImports: [...LeafDenied], denyExports: [...LeafDenied],
  };
}

/** nats-server options of an edge site: its own JetStream domain, and the leaf link once joined. */
export function edgeServerOptions(edge: EdgeSetup): { jetstreamDomain: string; leafRemotes?: LeafRemote[] } {
  return { jetstreamDomain: edge.name, ...(edge.credentials && edge.seed ? { leafRemotes: [leafRemoteOf(edge.credentials, edge.seed, edge.hubCaFile)] } : {}) };
}

/** What nats-server (2.10 to 2.15) logs when the hub refuses this server's leaf link. */
const LEAF_REFUSED = /Leafnode Error 'Authorization Violation'/;

/** Tells the link service when the site's server logs that the hub refused its leaf link. */
export function watchLeafRefusal(edge: EdgeSetup, line: string): void {
  if (LEAF_REFUSED.test(line)) edge.onLeafRefused?.();
}

/** What the Ops hub says of this edge's identity now; undefined before it joined or when the hub cannot tell. */
export async function edgeStanding(edge: EdgeSetup): Promise<EdgeStanding | undefined> {
  if (!edge.credentials || !edge.seed) return undefined;
  return askStanding({ edge: edge.name, opsUrl: edge.credentials.ops_url, seed: edge.seed, ca: await caOf(edge.hubCaFile) });
}

/**
 * Tries to join every `intervalMs` until it works or the hub refuses the token; on success stores the
 * credentials, sets them on `edge` and calls `onJoined` (which links the site's server to the hub).
 */
export function joinInBackground(edge: EdgeSetup, dataDir: string, log: Logger, onJoined: () => Promise<void>, intervalMs = JOIN_RETRY_MS): { stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const attempt = async (): Promise<void> => {
    try {
      const hubCaFile = await caFileFor(dataDir, edge.bundle);
      const joined = await joinHub(edge.bundle, await caOf(hubCaFile));
      if (stopped) return;
      await saveCredentials(dataDir, edge.bundle, joined);
      Object.assign(edge, { ...joinedFields(joined), hubCaFile });
      log.info({ edge: edge.name, ops: joined.credentials.ops_url, nkey: joined.credentials.nkey }, "joined the Ops hub; linking the site's nats-server to it");
      await onJoined().catch((err: unknown) => {
        // The credentials are stored: the next start links.
        log.error({ edge: edge.name, err: (err as Error).message }, "joined, but linking the site's nats-server failed; restart Ferry to link");
      });
    } catch (err) {
      if (err instanceof FerryError && err.code === "unavailable") {
        if (!stopped) timer = setTimeout(() => void attempt(), intervalMs);
        return;
      }
      log.error({ edge: edge.name, err: (err as Error).message }, "joining the Ops hub failed for good; the site serves locally without a link");
    }
  };
  timer = setTimeout(() => void attempt(), intervalMs);
  return { stop: () => { stopped = true; clearTimeout(timer); } };
}
