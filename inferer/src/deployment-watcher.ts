import type { KvWatchEntry } from "@nats-io/kv";
import type { ObjectStore } from "@nats-io/obj";
import type { NatsConnection } from "@nats-io/transport-node";
import { Buckets, SiteKeys, modelsOfStep, parseDeployedManifest, type DeployedManifest } from "@ferry/contracts";
import { openKv, openObjects, openOnUse } from "@ferry/runtime";
import type { Logger } from "pino";
import { ModelCache } from "./model-cache.js";
import { openWhenReady } from "./open-retry.js";
import { PipelineRuntime, type RuntimeOptions } from "./pipeline-runtime.js";
import type { PipelineSet } from "./pipeline-set.js";

/** A running watch of the deployments bucket. */
export interface DeploymentWatch {
  stop(): Promise<void>;
}

/** How often the deployment stores are opened again while missing, ms. */
const RETRY_MS = 2000;
/** Start-up waits at most this long for what is deployed to load, ms. */
const INITIAL_LOAD_MS = 60_000;

/**
 * Serves what is deployed: first the manifests cached from the last run, then every put or delete in
 * the deployments bucket as it happens, and the site's current pipeline from the site bucket. The
 * buckets are opened, never created: until they exist (the site is not provisioned, or JetStream is
 * away) the inferer serves its cached deployments, says why in its status, and tries again.
 */
export async function watchDeployments(nc: NatsConnection, set: PipelineSet, cacheDir: string, runtime: RuntimeOptions, log: Logger): Promise<DeploymentWatch> {
  const watcher = new DeploymentWatcher(nc, set, new ModelCache(cacheDir), runtime, log);
  await watcher.serveCached();
  await watcher.start();
  return watcher;
}

class DeploymentWatcher implements DeploymentWatch {
  readonly #nc: NatsConnection;
  readonly #set: PipelineSet;
  readonly #cache: ModelCache;
  readonly #runtime: RuntimeOptions;
  readonly #log: Logger;
  /** Pipeline → the version applied last (so a repeated put does not load it again). */
  readonly #served = new Map<string, string>();
  readonly #iterators: { stop(): void }[] = [];
  #stopped = false;

  constructor(nc: NatsConnection, set: PipelineSet, cache: ModelCache, runtime: RuntimeOptions, log: Logger) {
    this.#nc = nc;
    this.#set = set;
    this.#cache = cache;
    this.#runtime = runtime;
    this.#log = log;
  }

  /** Serves the manifests cached from the last run (the buckets may be out of reach now). */
  async serveCached(): Promise<void> {
    await Promise.all((await this.#cache.manifests()).map(this.#apply));
  }

  /** Follows the buckets; the first try is awaited (what is deployed loads before the inferer says it is ready), later ones are not. */
  async start(): Promise<void> {
    let firstTry!: () => void;
    const tried = new Promise<void>((resolve) => { firstTry = resolve; });
    const report = (why: string | undefined): void => {
      this.#set.setUnavailable(why && `cannot watch deployments: ${why}`);
      firstTry();
    };
    void openWhenReady(() => this.#follow(), { what: "deployment stores", log: this.#log, everyMs: RETRY_MS, stopped: () => this.#stopped, report });
    await tried;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const it of this.#iterators) it.stop();
  }

  /** Watches both buckets; resolves once what was deployed when it began has loaded (or after INITIAL_LOAD_MS). */
  async #follow(): Promise<void> {
    const [deployments, site] = await Promise.all([openKv(this.#nc, Buckets.deployments), openKv(this.#nc, Buckets.site)]);
    const initial = new Set<string>();
    for await (const key of await deployments.keys()) initial.add(key);
    const loads: Promise<void>[] = [];
    let initialized!: () => void;
    const seenAll = new Promise<void>((resolve) => { initialized = resolve; });
    if (initial.size === 0) initialized();
    const watch = await deployments.watch();
    const current = await site.watch({ key: SiteKeys.current });
    this.#iterators.push(watch, current);
    // Stopped while the watches were being set up: end them now (stop() has run its loop already).
    if (this.#stopped) for (const it of this.#iterators) it.stop();
    void consume(watch, async (e) => {
      const { load } = await onDeployment(e, this.#apply, this.#set, this.#cache, this.#served, this.#log);
      if (initial.delete(e.key)) {
        loads.push(load);
        if (initial.size === 0) initialized();
      }
    }, this.#log);
    void consume(current, (e) => { this.#set.setCurrent(e.operation === "PUT" && e.length > 0 ? e.string() : undefined); }, this.#log);
    await Promise.race([seenAll.then(() => Promise.all(loads)), new Promise((r) => setTimeout(r, INITIAL_LOAD_MS).unref())]);
  }

  /** Loads a deployed version and swaps it in (unless it is the one served already). */
  readonly #apply = (m: DeployedManifest): Promise<void> => {
    if (this.#served.get(m.pipeline) === m.pipeline_version) return Promise.resolve();
    this.#served.set(m.pipeline, m.pipeline_version);
    const models = m.steps.flatMap((s) => modelsOfStep(s)).map((s) => ({ name: s.model, sha: s.sha256 ?? "", version: s.version ?? "" }));
    return this.#set.apply(m.pipeline, async () => {
      const rt = await PipelineRuntime.create(m, (step) => this.#cache.model(step.sha256!, step.model, this.#modelStore), this.#runtime);
      await this.#cache.saveManifest(m);
      return rt;
    }, { version: m.pipeline_version, models });
  };

  /** The models store, opened when a model is first fetched (and again after a failure). */
  readonly #modelStore = openOnUse((): Promise<ObjectStore> => openObjects(this.#nc, Buckets.models));
}

async function consume(it: AsyncIterable<KvWatchEntry>, handle: (e: KvWatchEntry) => void | Promise<void>, log: Logger): Promise<void> {
  try {
    for await (const e of it) {
      try {
        await handle(e);
      } catch (err) {
        log.error({ err, key: e.key }, "deployment update failed");
      }
    }
  } catch (err) {
    log.error({ err }, "deployment watch ended");
  }
}

/** Handles one bucket update; resolves to the load it started, not awaited (so start-up can wait for it). */
async function onDeployment(e: KvWatchEntry, apply: (m: DeployedManifest) => Promise<void>, set: PipelineSet, cache: ModelCache, served: Map<string, string>, log: Logger): Promise<{ load: Promise<void> }> {
  if (e.operation !== "PUT") {
    served.delete(e.key);
    await cache.forgetManifest(e.key);
    await set.remove(e.key);
    return { load: Promise.resolve() };
  }
  let m: DeployedManifest;
  try {
    m = parseDeployedManifest(e.json<unknown>(), `deployment ${e.key}`);
  } catch (err) {
    log.error({ key: e.key, err: (err as Error).message }, "unreadable deployment");
    return { load: set.apply(e.key, () => Promise.reject(err as Error)) };
  }
  // Not awaited here: a slow model load must not hold up other pipelines' updates.
  return { load: apply(m) };
}

