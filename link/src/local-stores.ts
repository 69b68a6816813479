import { StorageType } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { Objm, type ObjectStore } from "@nats-io/obj";
import type { NatsConnection } from "@nats-io/transport-node";
import { Buckets } from "@ferry/contracts";

/** The site's own deployment stores, which its inferers watch. */
export interface LocalStores {
  deployments: KV;
  site: KV;
  models: ObjectStore;
}

/**
 * Opens the site's deployment stores, creating missing ones with the settings the deployer uses
 * (services do not import each other, so the three create calls are repeated here).
 */
export async function openLocalStores(nc: NatsConnection, replicas: number): Promise<LocalStores> {
  const kvm = new Kvm(nc);
  const objm = new Objm(nc);
  const [deployments, site, models] = await Promise.all([
    kvm.create(Buckets.deployments, { history: 5, replicas, storage: StorageType.File }),
    kvm.create(Buckets.site, { history: 5, replicas, storage: StorageType.File }),
    objm.create(Buckets.models, { replicas, storage: StorageType.File }),
  ]);
  return { deployments, site, models };
}
