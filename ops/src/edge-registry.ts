import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { Buckets, FerryError } from "@ferry/contracts";
import { kvKeys, openKv } from "@ferry/runtime";

/** KV bucket on the hub holding one record per edge. */
export const EdgeBucket = Buckets.edges;

/** Where an edge is in its lifecycle. */
export type EdgeState = "pending" | "joined" | "lapsed";

/**
 * What the hub knows of an edge: the join token only as a hash, and the edge's identity only as its
 * public nkey (the seed never leaves the edge). No secret of the edge's is here.
 */
export interface EdgeRecord {
  name: string;
  pipeline: string;
  workspace_id: string;
  state: EdgeState;
  created_at: number;
  token_sha256: string;
  token_expires_at: number;
  joined_at?: number;
  /** Public key (`U...`) of the edge's user nkey, sent at join: the hub's nats-server accepts it on the leaf port. Kept when the edge lapses, to say so when it asks. */
  nkey?: string;
  last_seen?: number;
  /** What the edge reported in its last heartbeat. */
  pipelines?: { name: string; version?: string; status: string }[];
  /** Why the edge lapsed. */
  detail?: string;
}

/** The edge records, in JetStream KV on the hub (so Ops keeps no state in memory). */
export class EdgeRegistry {
  readonly #kv: KV;
  readonly #jsm: JetStreamManager;

  private constructor(kv: KV, jsm: JetStreamManager) {
    this.#kv = kv;
    this.#jsm = jsm;
  }

  /** Opens the provisioned registry bucket. */
  static async open(nc: NatsConnection): Promise<EdgeRegistry> {
    return new EdgeRegistry(await openKv(nc, EdgeBucket), await jetstreamManager(nc));
  }

  async get(name: string): Promise<EdgeRecord | undefined> {
    return (await this.#entry(name))?.record;
  }

  async list(): Promise<EdgeRecord[]> {
    const out: EdgeRecord[] = [];
    for (const key of await kvKeys(this.#jsm, EdgeBucket)) {
      const r = await this.get(key);
      if (r) out.push(r);
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Adds a new edge; throws `conflict` when the name is taken by an edge that has not lapsed. */
  async add(record: EdgeRecord): Promise<void> {
    const old = await this.#entry(record.name);
    if (!old) {
      await this.#kv.create(record.name, JSON.stringify(record)).catch((err: unknown) => { throw conflict(record.name, err); });
    } else if (old.record.state === "lapsed") {
      await this.#kv.update(record.name, JSON.stringify(record), old.revision).catch((err: unknown) => { throw conflict(record.name, err); });
    } else {
      throw conflict(record.name);
    }
  }

  /**
   * Changes a record with a compare-and-set on its revision, so two concurrent changes (two joins with
   * the same token) cannot both win. `change` returns the new record, or throws to refuse.
   */
  async update(name: string, change: (r: EdgeRecord) => EdgeRecord | Promise<EdgeRecord>): Promise<EdgeRecord> {
    const old = await this.#entry(name);
    if (!old) throw new FerryError("not_found", `no edge named ${name}`);
    const next = await change(old.record);
    await this.#kv.update(name, JSON.stringify(next), old.revision).catch((err: unknown) => {
      throw new FerryError("conflict", `edge ${name} changed meanwhile; try again`, { cause: err });
    });
    return next;
  }

  /** Removes an edge; false when there was none. */
  async remove(name: string): Promise<boolean> {
    if (!(await this.#entry(name))) return false;
    await this.#kv.purge(name);
    return true;
  }

  async #entry(name: string): Promise<{ record: EdgeRecord; revision: number } | undefined> {
    const e = await this.#kv.get(name);
    if (!e || e.operation !== "PUT" || e.value.length === 0) return undefined;
    return { record: e.json<EdgeRecord>(), revision: e.revision };
  }
}

function conflict(name: string, cause?: unknown): FerryError {
  return new FerryError("conflict", `an edge named ${name} exists already: remove it first (DELETE /edges/${name})`, cause ? { cause } : undefined);
}
