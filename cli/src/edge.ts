import { FerryError, LeafDenied, HubDomain, decodeEdgeBundle, parsePipelineUrl, type EdgeBundle, type EdgeCredentials, type JoinRequest } from "@ferry/contracts";
import type { LeafRemote } from "@ferry/natsd";
import type { Logger } from "pino";
import { parseCredentials, readCredentials, saveCredentials } from "./edge-credentials.js";

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
}

/** Wait between join attempts while the hub is unreachable, ms. */
export const JOIN_RETRY_MS = 30_000;

/**
 * Trades the bundle's one-time token for the edge's credentials at `POST http://<OPSCENTER_HOST>/join`.
 * Throws FerryError `unauthorized` when the hub refuses the token (a new bundle is needed) and
 * `unavailable` when the hub cannot be reached or fails (worth trying again).
 */
export async function joinHub(bundle: EdgeBundle, timeoutMs = 10_000): Promise<EdgeCredentials> {
  const url = `http://${bundle.OPSCENTER_HOST}/join`;
  const body: JoinRequest = { edge_name: bundle.EDGE_NAME, join_token: bundle.JOIN_TOKEN };
  let res: Response;
  try {
    res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const cause = (err as Error & { cause?: Error }).cause?.message ?? (err as Error).message;
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
  if (stored) return { ...base, pipeline: stored.pipeline, hubDomain: stored.hub_domain, credentials: stored };
  try {
    const credentials = await joinHub(bundle);
    await saveCredentials(dataDir, bundle, credentials);
    log.info({ edge: bundle.EDGE_NAME, ops: credentials.ops_url, pipeline: credentials.pipeline }, "joined the Ops hub");
    return { ...base, pipeline: credentials.pipeline, hubDomain: credentials.hub_domain, credentials };
  } catch (err) {
    if (!(err instanceof FerryError) || err.code !== "unavailable") throw err;
    log.warn({ edge: bundle.EDGE_NAME, err: err.message, retryMs: JOIN_RETRY_MS }, "cannot join the Ops hub yet; serving locally without a link and retrying");
    return { ...base, credentials: undefined };
  }
}

/** The site server's leaf link to the hub: only heartbeats and JetStream cross it. */
export function leafRemoteOf(credentials: EdgeCredentials): LeafRemote {
  return { url: credentials.leaf_url, user: credentials.user, password: credentials.password, denyImports: [...LeafDenied], denyExports: [...LeafDenied] };
}

/** nats-server options of an edge site: its own JetStream domain, and the leaf link once joined. */
export function edgeServerOptions(edge: EdgeSetup): { jetstreamDomain: string; leafRemotes?: LeafRemote[] } {
  return { jetstreamDomain: edge.name, ...(edge.credentials ? { leafRemotes: [leafRemoteOf(edge.credentials)] } : {}) };
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
      const credentials = await joinHub(edge.bundle);
      if (stopped) return;
      await saveCredentials(dataDir, edge.bundle, credentials);
      Object.assign(edge, { credentials, pipeline: credentials.pipeline, hubDomain: credentials.hub_domain });
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
