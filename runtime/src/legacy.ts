// Transitional: what services called before the topology had one owner. Removed once every caller
// opens provisioned assets instead (see topology.ts, provision.ts, stores.ts).
import type { JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { ensureStream, provision } from "./provision.js";
import { openDeploymentStores, type DeploymentStores } from "./stores.js";
import { requestStreamConfig, resultStreamConfig, siteAssets, storageSettings } from "./topology.js";

/** Bounds of the durable inference streams. */
export interface DurableStorage {
  requestMaxBytes?: number;
  resultMaxBytes?: number;
  resultMaxAgeMs?: number;
  dedupWindowMs?: number;
  replicas?: number;
}

/** Creates or updates FERRY_REQUESTS and FERRY_RESULTS. */
export async function ensureDurableStreams(jsm: JetStreamManager, s: DurableStorage = {}): Promise<void> {
  const settings = storageSettings(s);
  await Promise.all([ensureStream(jsm, requestStreamConfig(settings)), ensureStream(jsm, resultStreamConfig(settings))]);
}

/** Creates the deployment stores where missing, then opens them. */
export async function createDeploymentStores(nc: NatsConnection, replicas = 1): Promise<DeploymentStores> {
  await provision(nc, siteAssets(storageSettings({ replicas })).filter((a) => a.kind !== "stream"));
  return openDeploymentStores(nc);
}
