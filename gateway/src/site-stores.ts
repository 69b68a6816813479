import type { NatsConnection } from "@nats-io/transport-node";
import { Kvm, type KV } from "@nats-io/kv";
import { Buckets, SiteKeys } from "@ferry/contracts";
import { openOnUse } from "@ferry/runtime";

/**
 * One KV bucket, bound once and kept. `Kvm.open` only binds (it asks the server nothing), so a bucket
 * that does not exist yet fails at the read, which reads as missing, and the same binding finds the
 * bucket once it is created. A bind that fails (a server without JetStream) is tried again at the next read.
 */
class LazyBucket {
  readonly #open: () => Promise<KV>;

  constructor(nc: NatsConnection, name: string) {
    this.#open = openOnUse(() => new Kvm(nc).open(name));
  }

  /** What `read` finds, or `missing` when the bucket (or what it reads) is not there or NATS fails. */
  async read<T>(read: (kv: KV) => Promise<T>, missing: T): Promise<T> {
    try {
      return await read(await this.#open());
    } catch {
      return missing;
    }
  }
}

/** The site's buckets as the gateway reads them: which pipelines are deployed, which one is current. */
export class SiteStores {
  readonly #deployments: LazyBucket;
  readonly #site: LazyBucket;

  constructor(nc: NatsConnection) {
    this.#deployments = new LazyBucket(nc, Buckets.deployments);
    this.#site = new LazyBucket(nc, Buckets.site);
  }

  /** Names of the deployed pipelines (keys of the deployments bucket); none when it does not exist. */
  deployedPipelines(): Promise<string[]> {
    return this.#deployments.read(async (kv) => {
      const names: string[] = [];
      for await (const key of await kv.keys()) names.push(key);
      return names;
    }, []);
  }

  /** The site bucket's `current`; undefined when the bucket or the key is missing (or deleted). */
  currentPipeline(): Promise<string | undefined> {
    return this.#site.read(async (kv) => {
      const e = await kv.get(SiteKeys.current);
      return e && e.operation === "PUT" && e.length > 0 ? e.string() : undefined;
    }, undefined);
  }
}
