import type { JetStreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { NatsUser } from "@ferry/natsd";
import { FerryError, HubDomain, encodeEdgeBundle, isSubjectToken, type DeployedManifest, type EdgeCredentials, type EdgeStatusReply, type EdgeStatusRequest, type JoinRequest } from "@ferry/contracts";
import { edgeLeafPermissions } from "@ferry/runtime";
import type { Logger } from "pino";
import type { EdgeRecord, EdgeRegistry } from "./edge-registry.js";
import type { HubServer } from "./hub-server.js";
import type { StorageSettings } from "@ferry/runtime";
import { syncLogSources } from "./log-sources.js";
import { newJoinToken, tokenHash, tokenMatches } from "./secrets.js";
import { joinNkey, signedBy, standingOf } from "./edge-identity.js";

/** Settings of the edge lifecycle. */
export interface LifecycleSettings {
  /** `host:port` of the Ops API, as bundles name it (OPSCENTER_HOST). */
  publicHost: string;
  /** What edges' nats-servers dial: `nats-leaf://host:port`. */
  leafUrl: string;
  /** SHA-256 of the hub's CA certificate: bundles pin it (OPSCENTER_CA_SHA256). */
  caFingerprint: string;
  /** A join token works this long after its bundle was made, ms. */
  tokenTtlMs: number;
  /** Credentials lapse when an edge has not contacted Ops for this long, ms. */
  contactTtlMs: number;
  workspaceId: string;
  logStorage: StorageSettings;
}

/**
 * Adding, joining, removing and lapsing edges. Every change that touches the hub server's users or
 * the log sources runs one at a time, in order.
 */
export class EdgeLifecycle {
  readonly #registry: EdgeRegistry;
  readonly #hub: HubServer;
  readonly #jsm: JetStreamManager;
  readonly #deployments: KV;
  readonly #s: LifecycleSettings;
  readonly #log: Logger;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(registry: EdgeRegistry, hub: HubServer, jsm: JetStreamManager, deployments: KV, s: LifecycleSettings, log: Logger) {
    this.#registry = registry;
    this.#hub = hub;
    this.#jsm = jsm;
    this.#deployments = deployments;
    this.#s = s;
    this.#log = log;
  }

  /** Registers an edge for a published pipeline; resolves to its EDGE_BUNDLE (base64). */
  async add(name: unknown, pipeline: unknown): Promise<string> {
    if (typeof name !== "string" || !isSubjectToken(name) || name === HubDomain) {
      throw new FerryError("bad_request", `name must be letters, digits, _ and - (and not "${HubDomain}"), got ${JSON.stringify(name)}`);
    }
    if (typeof pipeline !== "string" || !isSubjectToken(pipeline)) throw new FerryError("bad_request", `pipeline must be a pipeline name, got ${JSON.stringify(pipeline)}`);
    const published = await this.published(pipeline);
    if (!published) throw new FerryError("unknown_pipeline", `pipeline ${pipeline} is not published on this hub: POST /pipelines/${pipeline}/publish first`);
    const token = newJoinToken();
    const now = Date.now();
    await this.#registry.add({
      name, pipeline, workspace_id: this.#s.workspaceId, state: "pending", created_at: now,
      token_sha256: tokenHash(token), token_expires_at: now + this.#s.tokenTtlMs,
    });
    this.#log.info({ edge: name, pipeline }, "edge added");
    return encodeEdgeBundle({
      BUNDLE_VERSION: "1",
      EDGE_NAME: name,
      JOIN_TOKEN: token,
      OPSCENTER_HOST: this.#s.publicHost,
      PIPELINE_URL: `ferry://${this.#s.publicHost}/pipelines/${pipeline}:${published.pipeline_version}`,
      WORKSPACE_ID: this.#s.workspaceId,
      OPSCENTER_CA_SHA256: this.#s.caFingerprint,
    });
  }

  /**
   * Trades a valid, unused, unexpired join token and the edge's public nkey for where to link (401 for a
   * bad token, 409 for a key another edge has). From then on the hub's nats-server accepts that key.
   */
  async join(body: Partial<JoinRequest> | undefined): Promise<EdgeCredentials> {
    const name = body?.edge_name;
    const token = body?.join_token;
    if (typeof name !== "string" || typeof token !== "string") throw new FerryError("bad_request", "body must be {\"edge_name\": ..., \"join_token\": ..., \"nkey\": \"U...\"}");
    const nkey = joinNkey(body?.nkey);
    const joined = await this.#serially(async () => {
      const known = await this.#registry.get(name);
      if (!known || !tokenMatches(token, known.token_sha256)) throw new FerryError("unauthorized", "unknown edge or join token");
      // One key, one edge: a key listed twice would give its holder the other edge's permissions too.
      if ((await this.#registry.list()).some((r) => r.nkey === nkey && r.name !== name)) throw new FerryError("conflict", "this nkey is another edge's: make a new key pair for each join");
      const record = await this.#registry.update(name, (r) => {
        if (r.state !== "pending") throw new FerryError("unauthorized", `this join token was used already (edge ${name} is ${r.state}): create a new bundle`);
        if (Date.now() > r.token_expires_at) throw new FerryError("unauthorized", `this join token expired at ${new Date(r.token_expires_at).toISOString()}: create a new bundle`);
        return { ...r, state: "joined", joined_at: Date.now(), nkey };
      });
      await this.#hub.allow(await this.#users());
      await this.#syncSources();
      return record;
    });
    this.#log.info({ edge: name, nkey }, "edge joined");
    return {
      edge_name: name, nkey, leaf_url: this.#s.leafUrl, hub_domain: HubDomain,
      pipeline: joined.pipeline, ops_url: `https://${this.#s.publicHost}`, joined_at: joined.joined_at!,
    };
  }

  /**
   * Answers an edge's signed question about its own identity (`POST /edges/{name}/status`): how an edge
   * whose leaf link is refused learns that it was revoked or lapsed, rather than guessing "unreachable".
   */
  async standing(name: string, body: Partial<EdgeStatusRequest> | undefined): Promise<EdgeStatusReply> {
    if (!isSubjectToken(name)) throw new FerryError("bad_request", `no edge can be named ${JSON.stringify(name)}`);
    const nkey = signedBy(name, body);
    const state = standingOf(await this.#registry.get(name), nkey);
    if (state !== "joined") this.#log.info({ edge: name, nkey, state }, "an edge asked its standing: it needs a new bundle");
    return { edge: name, state };
  }

  /** Removes an edge and revokes its credentials at once (its leaf link is dropped). */
  async remove(name: string): Promise<void> {
    await this.#serially(async () => {
      const had = await this.#registry.get(name);
      if (!had) throw new FerryError("not_found", `no edge named ${name}`);
      await this.#registry.remove(name);
      if (had.state === "joined") await this.#revoke();
    });
    this.#log.info({ edge: name }, "edge removed; its credentials are revoked");
  }

  /** Lapses joined edges that have not made contact within the contact period; resolves to their names. */
  async sweep(): Promise<string[]> {
    return this.#serially(async () => {
      const now = Date.now();
      const lapsed: string[] = [];
      for (const r of await this.#registry.list()) {
        if (r.state !== "joined" || now - (r.last_seen ?? r.joined_at ?? now) <= this.#s.contactTtlMs) continue;
        await this.#registry.update(r.name, (x) => ({ ...x, state: "lapsed", detail: `no contact since ${new Date(x.last_seen ?? x.joined_at!).toISOString()}` }));
        lapsed.push(r.name);
      }
      if (lapsed.length > 0) {
        await this.#revoke();
        this.#log.warn({ edges: lapsed }, "edge credentials lapsed (no contact within the contact period)");
      }
      return lapsed;
    });
  }

  /** Makes the hub's users and log sources match the registry (at start). */
  async reconcile(): Promise<void> {
    await this.#serially(async () => {
      const users = await this.#users();
      if (JSON.stringify(users) !== JSON.stringify(this.#hub.users)) await this.#hub.revokeTo(users);
      await this.#syncSources();
    });
  }

  /** The latest published version of a pipeline, if any. */
  async published(pipeline: string): Promise<DeployedManifest | undefined> {
    const e = await this.#deployments.get(pipeline);
    return e && e.operation === "PUT" && e.value.length > 0 ? e.json<DeployedManifest>() : undefined;
  }

  async #revoke(): Promise<void> {
    await this.#hub.revokeTo(await this.#users());
    await this.#syncSources();
  }

  /**
   * One nkey user per joined edge. Records from before nkey identities (a password hash, no nkey) give
   * none: such an edge is refused until Ops re-adds it and it joins with a new bundle.
   */
  async #users(): Promise<NatsUser[]> {
    return (await this.#registry.list()).flatMap((r: EdgeRecord) => (r.state === "joined" && r.nkey ? [{ nkey: r.nkey, permissions: edgeLeafPermissions(r.name) }] : []));
  }

  async #syncSources(): Promise<void> {
    const joined = (await this.#registry.list()).filter((r) => r.state === "joined").map((r) => r.name);
    await syncLogSources(this.#jsm, joined, this.#s.logStorage);
  }

  #serially<T>(work: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(work);
    this.#queue = next.catch(() => undefined);
    return next;
  }
}
