import { FerryError, LeafDenied, HubDomain, decodeEdgeBundle, parsePipelineUrl, type EdgeBundle, type EdgeCredentials, type JoinRequest } from "@ferry/contracts";
import type { LeafRemote } from "@ferry/natsd";
import { readFile } from "node:fs/promises";
import type { Logger } from "pino";
import { fetchTrusting } from "@ferry/runtime";
import { parseCredentials, readCredentials, saveCredentials } from "./edge-credentials.js";
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
}

/** Wait between join attempts while the hub is unreachable, ms. */
export const JOIN_RETRY_MS = 30_000;

/** Whether a failed TLS connection failed because the server's certificate did not check out. */
function isCertificateError(err: unknown): boolean {
  const code = String((err as { cause?: { code?: unknown } }).cause?.code ?? "");
  return /CERT|SIGNATURE|ALTNAME|SELF_SIGNED|ISSUER/.test(code);
}

/**
 * Trades the bundle's one-time token for the edge's credentials at `POST https://<OPSCENTER_HOST>/join`,
 * checking the hub's certificate against `ca` (PEM; the system's CAs without it). Throws FerryError
 * `unauthorized` when the hub refuses the token (a new bundle is needed), `untrusted_hub` when its
 * certificate does not check out, and `unavailable` when the hub cannot be reached or fails (worth trying again).
 */
export async function joinHub(bundle: EdgeBundle, ca: string | undefined, timeoutMs = 10_000): Promise<EdgeCredentials> {
  const url = `https://${bundle.OPSCENTER_HOST}/join`;
  const body: JoinRequest = { edge_name: bundle.EDGE_NAME, join_token: bundle.JOIN_TOKEN };
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
  return parseCredentials(reply, bundle.EDGE_NAME, `the Ops hub's answer at ${url}`);
}

/**
 * Reads the bundle and the edge's stored credentials, joining the hub when there are none. A refused
 * token is fatal; an unreachable hub is not: the site starts without a link (see {@link joinInBackground}).
 */
export async function prepareEdge(bundleBase64: string, dataDir: string, log: Logger): Promise<EdgeSetup> {
  const bundle = decodeEdgeBundle(bundleBase64);
  const base = { bundle, name: bundle.EDGE_NAME, pipeline: parsePipelineUrl(bundle.PIPELINE_URL).pipeline, hubDomain: HubDomain };
  const stored = await readCredentials(dataDir, bundle);
  if (stored) return { ...base, pipeline: stored.pipeline, hubDomain: stored.hub_domain, credentials: stored, hubCaFile: await caFileFor(dataDir, bundle) };
  try {
    const hubCaFile = await caFileFor(dataDir, bundle);
    const credentials = await joinHub(bundle, await caOf(hubCaFile));
    await saveCredentials(dataDir, bundle, credentials);
    log.info({ edge: bundle.EDGE_NAME, ops: credentials.ops_url, pipeline: credentials.pipeline, hubCa: hubCaFile }, "joined the Ops hub");
    return { ...base, pipeline: credentials.pipeline, hubDomain: credentials.hub_domain, credentials, hubCaFile };
  } catch (err) {
    if (!(err instanceof FerryError) || err.code !== "unavailable") throw err;
    log.warn({ edge: bundle.EDGE_NAME, err: err.message, retryMs: JOIN_RETRY_MS }, "cannot join the Ops hub yet; serving locally without a link and retrying");
    return { ...base, credentials: undefined };
  }
}

/** The hub's CA file for this bundle (fetched with the pin checked when not stored yet); undefined when the bundle pins none. */
async function caFileFor(dataDir: string, bundle: EdgeBundle): Promise<string | undefined> {
  return (await hubCa(dataDir, bundle)) ? hubCaPath(dataDir) : undefined;
}

async function caOf(file: string | undefined): Promise<string | undefined> {
  return file ? readFile(file, "utf8") : undefined;
}

/** The site server's leaf link to the hub, over TLS checked against the hub's CA: only heartbeats and JetStream cross it. */
export function leafRemoteOf(credentials: EdgeCredentials, hubCaFile: string | undefined): LeafRemote {
  return {
    url: credentials.leaf_url, user: credentials.user, password: credentials.password, tls: { caFile: hubCaFile },
    denyImports: [...LeafDenied], denyExports: [...LeafDenied],
  };
}

/** nats-server options of an edge site: its own JetStream domain, and the leaf link once joined. */
export function edgeServerOptions(edge: EdgeSetup): { jetstreamDomain: string; leafRemotes?: LeafRemote[] } {
  return { jetstreamDomain: edge.name, ...(edge.credentials ? { leafRemotes: [leafRemoteOf(edge.credentials, edge.hubCaFile)] } : {}) };
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
      const credentials = await joinHub(edge.bundle, await caOf(hubCaFile));
      if (stopped) return;
      await saveCredentials(dataDir, edge.bundle, credentials);
      Object.assign(edge, { credentials, pipeline: credentials.pipeline, hubDomain: credentials.hub_domain, hubCaFile });
      log.info({ edge: edge.name, ops: credentials.ops_url }, "joined the Ops hub; linking the site's nats-server to it");
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
