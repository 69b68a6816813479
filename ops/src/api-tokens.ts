import { randomBytes } from "node:crypto";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { Buckets, FerryError } from "@ferry/contracts";
import { kvKeys, openKv } from "@ferry/runtime";
import { isRole, type Role } from "./roles.js";
import { tokenHash, tokenMatches } from "./secrets.js";

/** What every Ops API token starts with: secret scanners and people recognise it, and auth tells it from a JWT. */
export const TokenPrefix = "ferry_";
/** `ferry_` and at least 32 random bytes in base64url (43 characters). */
const tokenShape = /^ferry_[A-Za-z0-9_-]{43,}$/;

/** A token lives this long unless `--ttl` says otherwise. */
export const DefaultTokenTtlMs = 90 * 86_400_000;

/** Whether `token` is shaped like an Ops API token (a bearer token that is not is tried as a JWT). */
export function isApiToken(token: string): boolean {
  return tokenShape.test(token);
}

/** What the hub keeps of a token: its sha256, never the token. */
export interface TokenRecord {
  id: string;
  role: Role;
  name: string;
  created_at: number;
  /** ms since the epoch; null: never (only when asked for with a ttl of 0). */
  expires_at: number | null;
  sha256: string;
}

/** A token as listed: no secret and no hash. */
export type TokenView = Omit<TokenRecord, "sha256"> & { expired: boolean };

/** How a presented token checked out. */
export type TokenCheck = { ok: true; token: TokenView } | { ok: false; reason: string };

/**
 * The Ops API tokens, in KV `ferry-ops-tokens` on the hub, keyed by the token's sha256. KV rather than a
 * file: the edge registry lives there too (Ops keeps no state of its own), it sits in the hub's data dir
 * (mode 0700) behind the hub's nats-server, whose only full user is Ops, and edges' leaf users cannot
 * read it (edgeLeafPermissions). Keying by the hash finds a token in one read without knowing the token.
 */
export class ApiTokens {
  readonly #kv: KV;
  readonly #jsm: JetStreamManager;
  readonly #now: () => number;

  private constructor(kv: KV, jsm: JetStreamManager, now: () => number) {
    this.#kv = kv;
    this.#jsm = jsm;
    this.#now = now;
  }

  /** Opens the provisioned bucket; `now` is the clock expiry is judged by. */
  static async open(nc: NatsConnection, now: () => number = Date.now): Promise<ApiTokens> {
    return new ApiTokens(await openKv(nc, Buckets.opsTokens), await jetstreamManager(nc), now);
  }

  /** Makes a token; resolves to the token (shown once, never stored) and its record as listed. */
  async create(role: unknown, name: unknown, ttlMs: unknown): Promise<{ token: string; view: TokenView }> {
    const token = TokenPrefix + randomBytes(32).toString("base64url");
    const view = await this.#put(token, checkRole(role), checkName(name), checkTtl(ttlMs));
    return { token, view };
  }

  /** Stores a token the operator chose (FERRY_OPS_ADMIN_TOKEN), by its hash; nothing when it is stored already. */
  async adopt(token: string, role: Role, name: string): Promise<void> {
    if (!isApiToken(token)) throw new FerryError("bad_request", `an Ops API token is ${TokenPrefix} and 43+ base64url characters (32 random bytes), e.g. from \`ferry ops token create\` or \`echo ${TokenPrefix}$(openssl rand 32 | basenc --base64url | tr -d =)\``);
    if (!(await this.#record(tokenHash(token)))) await this.#put(token, role, name, 0);
  }

  /** Whether `token` is a stored, unexpired Ops API token (compared by hash, in constant time). */
  async check(token: string): Promise<TokenCheck> {
    if (!isApiToken(token)) return { ok: false, reason: "not an Ops API token" };
    const hash = tokenHash(token);
    const record = await this.#record(hash);
    if (!record || !tokenMatches(token, record.sha256)) return { ok: false, reason: "unknown or revoked token" };
    const view = this.#view(record);
    if (view.expired) return { ok: false, reason: `the token expired at ${new Date(record.expires_at!).toISOString()}` };
    return { ok: true, token: view };
  }

  async list(): Promise<TokenView[]> {
    const records = await Promise.all((await kvKeys(this.#jsm, Buckets.opsTokens)).map((key) => this.#record(key)));
    return records.flatMap((r) => (r ? [this.#view(r)] : [])).sort((a, b) => a.created_at - b.created_at || a.id.localeCompare(b.id));
  }

  /** Revokes a token by its id at once (its record is purged); `not_found` when there is none. */
  async revoke(id: string): Promise<TokenView> {
    for (const key of await kvKeys(this.#jsm, Buckets.opsTokens)) {
      const r = await this.#record(key);
      if (r?.id !== id) continue;
      await this.#kv.purge(key);
      return this.#view(r);
    }
    throw new FerryError("not_found", `no Ops API token with id ${id}`);
  }

  /** Whether no token is stored (the hub's first start: it then makes an admin token). */
  async empty(): Promise<boolean> {
    return (await this.list()).length === 0;
  }

  async #put(token: string, role: Role, name: string, ttlMs: number): Promise<TokenView> {
    const now = this.#now();
    const record: TokenRecord = { id: randomBytes(8).toString("hex"), role, name, created_at: now, expires_at: ttlMs === 0 ? null : now + ttlMs, sha256: tokenHash(token) };
    await this.#kv.create(record.sha256, JSON.stringify(record));
    return this.#view(record);
  }

  async #record(key: string): Promise<TokenRecord | undefined> {
    const e = await this.#kv.get(key);
    return e && e.operation === "PUT" && e.value.length > 0 ? e.json<TokenRecord>() : undefined;
  }

  #view({ sha256: _hash, ...rest }: TokenRecord): TokenView {
    return { ...rest, expired: rest.expires_at !== null && this.#now() >= rest.expires_at };
  }
}

function checkRole(role: unknown): Role {
  if (!isRole(role)) throw new FerryError("bad_request", `role must be admin, publisher or viewer, got ${JSON.stringify(role)}`);
  return role;
}

function checkName(name: unknown): string {
  if (name === undefined) return "";
  if (typeof name !== "string" || name.length > 100 || !/^[\p{L}\p{N} ._@:-]*$/u.test(name)) {
    throw new FerryError("bad_request", `name must be up to 100 letters, digits, spaces and . _ @ : -, got ${JSON.stringify(name)}`);
  }
  return name;
}

/** `ttl_ms`: absent for the default (90 days), 0 for a token that never expires (asked for explicitly). */
function checkTtl(ttlMs: unknown): number {
  if (ttlMs === undefined) return DefaultTokenTtlMs;
  if (typeof ttlMs !== "number" || !Number.isSafeInteger(ttlMs) || ttlMs < 0) throw new FerryError("bad_request", `ttl_ms must be a whole number of ms (0: never expires), got ${JSON.stringify(ttlMs)}`);
  return ttlMs;
}
