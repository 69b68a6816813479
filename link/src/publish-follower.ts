import type { JetStreamClient } from "@nats-io/jetstream";
import { Kvm, type KvWatchEntry } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import type { NatsConnection } from "@nats-io/transport-node";
import { Buckets, SiteKeys, modelsOfStep, parseDeployedManifest, type DeployedManifest } from "@ferry/contracts";
import type { Logger } from "pino";
import { copyModel } from "./model-copy.js";
import { openDeploymentStores, openOnUse, type DeploymentStores as LocalStores } from "@ferry/runtime";

/** What the follower reports when it has deployed a version from the hub. */
export interface FollowedVersion {
  pipeline: string;
  pipeline_version: string;
  /** Models copied from the hub for it (names). */
  copied: string[];
}

/** How the follower runs. */
export interface FollowerOptions {
  pipeline: string;
  /** Longest wait between tries to watch the hub, ms. */
  maxBackoffMs: number;
  log: Logger;
  onDeployed?: (v: FollowedVersion) => void;
}

const FIRST_BACKOFF_MS = 500;

/**
 * Follows the pipeline published on the hub: watches the hub's deployments bucket (through its
 * JetStream domain) for the pipeline's key and deploys each version locally: models first, then the
 * manifest, which the site's inferers swap in. The watch is reopened with backoff whenever it fails
 * or ends, and at once on {@link PublishFollower.resync} (the link came back).
 */
export class PublishFollower {
  readonly #local: NatsConnection;
  readonly #hub: JetStreamClient;
  readonly #o: FollowerOptions;
  /** Aborts the current watch and any transfer in flight. */
  #round = new AbortController();
  #wake: (() => void) | undefined;
  #stopped = false;
  #loop: Promise<void> | undefined;

  constructor(local: NatsConnection, hub: JetStreamClient, options: FollowerOptions) {
    this.#local = local;
    this.#hub = hub;
    this.#o = options;
  }

  /** Starts following (returns at once). */
  start(): void {
    this.#loop ??= this.#run();
  }

  /** Drops the current watch and opens a new one now: it delivers the hub's latest version again. */
  resync(): void {
    this.#round.abort();
    this.#wake?.();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.resync();
    await this.#loop;
  }

  async #run(): Promise<void> {
    let backoff = FIRST_BACKOFF_MS;
    while (!this.#stopped) {
      this.#round = new AbortController();
      const signal = this.#round.signal;
      try {
        await this.#watchOnce(signal, () => { backoff = FIRST_BACKOFF_MS; });
      } catch (err) {
        if (!signal.aborted) this.#o.log.warn({ pipeline: this.#o.pipeline, err: (err as Error).message, retryMs: backoff }, "cannot follow the hub's pipeline; retrying");
      }
      if (this.#stopped) return;
      if (!signal.aborted) {
        await this.#sleep(backoff);
        backoff = Math.min(backoff * 2, this.#o.maxBackoffMs);
      }
    }
  }

  async #watchOnce(signal: AbortSignal, onOpen: () => void): Promise<void> {
    const kv = await new Kvm(this.#hub).open(Buckets.deployments);
    const watch = await kv.watch({ key: this.#o.pipeline });
    const onAbort = (): void => { watch.stop(); };
    signal.addEventListener("abort", onAbort, { once: true });
    if (signal.aborted) onAbort();
    try {
      onOpen();
      for await (const e of watch) {
        // A version that failed half way is tried again from a fresh watch, which starts with the latest.
        await this.#apply(e, signal);
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
      watch.stop();
    }
    if (!signal.aborted) throw new Error("the watch of the hub's deployments ended");
  }

  async #apply(e: KvWatchEntry, signal: AbortSignal): Promise<void> {
    if (e.operation !== "PUT" || e.length === 0) {
      this.#o.log.info({ pipeline: e.key }, "pipeline removed on the hub; the site keeps serving its last version");
      return;
    }
    let m: DeployedManifest;
    try {
      m = parseDeployedManifest(e.json<unknown>(), `hub deployment ${e.key}`);
    } catch (err) {
      this.#o.log.error({ pipeline: e.key, err: (err as Error).message }, "unreadable deployment on the hub; skipped");
      return;
    }
    const local = await this.#localStores();
    const copied: string[] = [];
    if ((await localVersion(local, m.pipeline)) !== m.pipeline_version) {
      const hubModels = await new Objm(this.#hub).open(Buckets.models);
      for (const ref of m.steps.flatMap((s) => modelsOfStep(s))) {
        if (await copyModel(hubModels, local.models, ref.model, ref.sha256!, signal)) copied.push(ref.model);
      }
      // The manifest goes last and unchanged: inferers only see a version whose models are all here.
      await local.deployments.put(m.pipeline, e.value);
      this.#o.log.info({ pipeline: m.pipeline, version: m.pipeline_version, copied }, "pipeline version from the Ops hub deployed");
      this.#o.onDeployed?.({ pipeline: m.pipeline, pipeline_version: m.pipeline_version, copied });
    }
    const current = await local.site.get(SiteKeys.current);
    if (!current || current.operation !== "PUT" || current.length === 0) await local.site.put(SiteKeys.current, m.pipeline);
  }

  /** The site's stores, opened on first use (and again after a failure). */
  readonly #localStores = openOnUse((): Promise<LocalStores> => openDeploymentStores(this.#local));

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    }).finally(() => { this.#wake = undefined; });
  }
}

async function localVersion(local: LocalStores, pipeline: string): Promise<string | undefined> {
  const entry = await local.deployments.get(pipeline);
  if (!entry || entry.operation !== "PUT" || entry.length === 0) return undefined;
  try {
    return parseDeployedManifest(entry.json<unknown>()).pipeline_version;
  } catch {
    return undefined;
  }
}
