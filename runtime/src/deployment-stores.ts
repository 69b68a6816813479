import { StorageType } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { Objm, type ObjectStore } from "@nats-io/obj";
import type { NatsConnection } from "@nats-io/transport-node";
import { Buckets } from "@ferry/contracts";

/** The JetStream stores that hold a site's deployments (the same kinds hold the Ops hub's publishes). */
export interface DeploymentStores {
  /** Pipeline name → deployed manifest. */
  deployments: KV;
  /** Site settings (the current pipeline). */
  site: KV;
  /** Model files named by sha256. */
  models: ObjectStore;
}

/**
 * Opens the deployment stores, creating them (file storage, `replicas` copies) where missing. Shared
 * here because the deployer writes them, inferers watch them and an edge's link fills them from the hub.
 */
export async function openDeploymentStores(nc: NatsConnection, replicas = 1): Promise<DeploymentStores> {
  const kvm = new Kvm(nc);
  const objm = new Objm(nc);
  const [deployments, site, models] = await Promise.all([
    kvm.create(Buckets.deployments, { history: 5, replicas, storage: StorageType.File }),
    kvm.create(Buckets.site, { history: 5, replicas, storage: StorageType.File }),
    objm.create(Buckets.models, { replicas, storage: StorageType.File }),
  ]);
  return { deployments, site, models };
}
