import { jetstreamManager, type JetStreamManager, type StreamConfig, type StreamInfo } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import { StorageType } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { isStreamNameInUse, isStreamNotFound } from "./nats-errors.js";
import type { Asset, StreamDefinition } from "./topology.js";

/** What `provision` did to each asset. */
export interface ProvisionResult {
  name: string;
  kind: Asset["kind"];
  action: "created" | "updated" | "unchanged";
}

/**
 * Creates every asset that is missing and brings existing streams to their definition (bounds,
 * replicas, subjects). Idempotent, and safe while services run. Needs a user allowed to manage
 * JetStream (the site's admin).
 */
export async function provision(nc: NatsConnection, assets: readonly Asset[]): Promise<ProvisionResult[]> {
  const jsm = await jetstreamManager(nc);
  return Promise.all(assets.map((a) => provisionOne(nc, jsm, a)));
}

async function provisionOne(nc: NatsConnection, jsm: JetStreamManager, a: Asset): Promise<ProvisionResult> {
  if (a.kind === "stream") {
    const { action } = await ensureStream(jsm, a.config);
    return { name: a.config.name, kind: a.kind, action };
  }
  const stream = a.kind === "kv" ? `KV_${a.name}` : `OBJ_${a.name}`;
  const info = await streamInfo(jsm, stream);
  if (!info) {
    if (a.kind === "kv") await new Kvm(nc).create(a.name, { history: a.history, replicas: a.replicas, storage: StorageType.File });
    else await new Objm(nc).create(a.name, { replicas: a.replicas, storage: StorageType.File });
    return { name: a.name, kind: a.kind, action: "created" };
  }
  // An existing bucket keeps its data; only what the topology decides is brought in line.
  const want: Partial<StreamConfig> = { num_replicas: a.replicas, ...(a.kind === "kv" ? { max_msgs_per_subject: a.history } : {}) };
  const differs = Object.entries(want).some(([k, v]) => info.config[k as keyof StreamConfig] !== v);
  if (differs) await jsm.streams.update(stream, { ...info.config, ...want });
  return { name: a.name, kind: a.kind, action: differs ? "updated" : "unchanged" };
}

async function streamInfo(jsm: JetStreamManager, name: string): Promise<StreamInfo | undefined> {
  try {
    return await jsm.streams.info(name);
  } catch (err) {
    if (isStreamNotFound(err)) return undefined;
    throw err;
  }
}

/** Creates a stream, or updates it where its configuration differs (safe from several callers at once). */
export async function ensureStream(jsm: JetStreamManager, config: StreamDefinition): Promise<{ info: StreamInfo; action: ProvisionResult["action"] }> {
  try {
    const info = await jsm.streams.info(config.name);
    const differs = Object.entries(config).some(([k, v]) => JSON.stringify(info.config[k as keyof StreamConfig]) !== JSON.stringify(v));
    if (!differs) return { info, action: "unchanged" };
    return { info: await jsm.streams.update(config.name, { ...info.config, ...config }), action: "updated" };
  } catch (err) {
    if (!isStreamNotFound(err)) throw err;
    try {
      return { info: await jsm.streams.add(config), action: "created" };
    } catch (addErr) {
      // Another caller created it in between.
      if (isStreamNameInUse(addErr)) return { info: await jsm.streams.info(config.name), action: "unchanged" };
      throw addErr;
    }
  }
}
