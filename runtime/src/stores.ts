/**
 * Opening what `provision` created. Services never create streams or buckets: they open them, and a
 * missing one is a FerryError `unavailable` that names it, so a service can report it and try again.
 */
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { Objm, type ObjectStore } from "@nats-io/obj";
import type { NatsConnection } from "@nats-io/transport-node";
import { Buckets, FerryError } from "@ferry/contracts";
import { isStreamNotFound } from "./nats-errors.js";

/** The JetStream stores that hold a site's deployments (the same kinds hold the Ops hub's publishes). */
export interface DeploymentStores {
  /** Pipeline name → deployed manifest. */
  deployments: KV;
  /** Site settings (the current pipeline). */
  site: KV;
  /** Model files named by sha256. */
  models: ObjectStore;
}

/** Throws FerryError `unavailable` naming the first of these streams that does not exist. */
export async function requireStreams(jsm: JetStreamManager, names: readonly string[]): Promise<void> {
  for (const name of names) {
    try {
      await jsm.streams.info(name);
    } catch (err) {
      if (isStreamNotFound(err)) throw notProvisioned(name, err);
      throw err;
    }
  }
}

/** Opens a KV bucket that exists; FerryError `unavailable` when it does not. */
export async function openKv(nc: NatsConnection, name: string): Promise<KV> {
  await requireStreams(await jetstreamManager(nc), [`KV_${name}`]);
  return new Kvm(nc).open(name);
}

/** Opens an object store that exists; FerryError `unavailable` when it does not. */
export async function openObjects(nc: NatsConnection, name: string): Promise<ObjectStore> {
  try {
    return await new Objm(nc).open(name);
  } catch (err) {
    if (isStreamNotFound(err)) throw notProvisioned(`OBJ_${name}`, err);
    throw err;
  }
}

/** Opens the deployment stores (they must have been provisioned). */
export async function openDeploymentStores(nc: NatsConnection): Promise<DeploymentStores> {
  const [deployments, site, models] = await Promise.all([openKv(nc, Buckets.deployments), openKv(nc, Buckets.site), openObjects(nc, Buckets.models)]);
  return { deployments, site, models };
}

function notProvisioned(stream: string, cause: unknown): FerryError {
  return new FerryError("unavailable", `JetStream asset ${stream} does not exist yet (ferry start provisions it as the site's admin)`, { cause });
}

/**
 * Opens something on first use and keeps it; a failed open (not provisioned yet, NATS away) is not
 * kept, so the next use tries again. Lets a service start before its assets exist and answer
 * `unavailable` meanwhile.
 */
export function openOnUse<T>(open: () => Promise<T>): () => Promise<T> {
  let opened: Promise<T> | undefined;
  return () => (opened ??= open().catch((err: unknown) => {
    opened = undefined;
    throw err;
  }));
}

/**
 * A KV bucket's keys, from its stream's subjects: one request, no consumer. (`kv.keys()` runs an
 * ordered push consumer whose heartbeat timer outlives a connection closed meanwhile and keeps the
 * process alive.) Deleted keys are listed too until their markers go: a caller that reads the values
 * skips them. FerryError `unavailable` when the bucket does not exist.
 */
export async function kvKeys(jsm: JetStreamManager, bucket: string): Promise<string[]> {
  const prefix = `$KV.${bucket}.`;
  try {
    const info = await jsm.streams.info(`KV_${bucket}`, { subjects_filter: `${prefix}>` });
    return Object.keys(info.state.subjects ?? {}).map((s) => s.slice(prefix.length));
  } catch (err) {
    if (isStreamNotFound(err)) throw notProvisioned(`KV_${bucket}`, err);
    throw err;
  }
}
