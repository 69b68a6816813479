import type { KvWatchEntry } from "@nats-io/kv";
import type { ObjectStore } from "@nats-io/obj";
import type { NatsConnection } from "@nats-io/transport-node";
import { Buckets, SiteKeys, modelsOfStep, parseDeployedManifest, type DeployedManifest } from "@ferry/contracts";
import { openKv, openObjects } from "@ferry/runtime";
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

/**
 * Serves what is deployed: first the manifests cached from the last run, then every put or delete in
 * the deployments bucket as it happens, and the site's current pipeline from the site bucket. The
 * buckets are opened, never created: until they exist (the site is not provisioned, or JetStream is
 * away) the inferer serves its cached deployments, says why in its status, and tries again.
 */
export async function watchDeployments(nc: NatsConnection, set: PipelineSet, cacheDir: string, runtime: RuntimeOptions, log: Logger): Promise<DeploymentWatch> {
  const cache = new ModelCache(cacheDir);
  const served = new Map<string, string>();
  let store: Promise<ObjectStore> | undefined;
  const models = (): Promise<ObjectStore> => (store ??= openObjects(nc, Buckets.models).catch((err: unknown) => {
    store = undefined;
    throw err;
  }));
  const apply = (m: DeployedManifest): Promise<void> => {
    if (served.get(m.pipeline) === m.pipeline_version) return Promise.resolve();
    served.set(m.pipeline, m.pipeline_version);
    return set.apply(m.pipeline, async () => {
      const rt = await PipelineRuntime.create(m, (step) => cache.model(step.sha256!, step.model, models), runtime);
      await cache.saveManifest(m);
      return rt;
    }, { version: m.pipeline_version, models: m.steps.flatMap((s) => modelsOfStep(s)).map((s) => ({ name: s.model, sha: s.sha256 ?? "", version: s.version ?? "" })) });
  };
  await Promise.all((await cache.manifests()).map(apply));

  let stopped = false;
  const iterators: { stop(): void }[] = [];
  const follow = async (): Promise<void> => {
    const [deployments, site] = await Promise.all([openKv(nc, Buckets.deployments), openKv(nc, Buckets.site)]);
    // What is deployed now is loaded before the inferer says it is ready; later puts load in the background.
    const initial = new Set<string>();
    for await (const key of await deployments.keys()) initial.add(key);
    const loads: Promise<void>[] = [];
    let initialized!: () => void;
    const seenAll = new Promise<void>((resolve) => { initialized = resolve; });
    if (initial.size === 0) initialized();
    const watch = await deployments.watch();
    const current = await site.watch({ key: SiteKeys.current });
    iterators.push(watch, current);
    void consume(watch, async (e) => {
      const { load } = await onDeployment(e, apply, set, cache, served, log);
      if (initial.delete(e.key)) {
        loads.push(load);
        if (initial.size === 0) initialized();
      }
    }, log);
    void consume(current, (e) => { set.setCurrent(e.operation === "PUT" && e.length > 0 ? e.string() : undefined); }, log);
    await Promise.race([seenAll.then(() => Promise.all(loads)), new Promise((r) => setTimeout(r, 60_000).unref())]);
  };
  // The first try is awaited (what is deployed loads before the inferer says it is ready); later ones are not.
  let firstTry!: () => void;
  const tried = new Promise<void>((resolve) => { firstTry = resolve; });
  const report = (why: string | undefined): void => {
    set.setUnavailable(why && `cannot watch deployments: ${why}`);
    firstTry();
  };
  void openWhenReady(follow, { what: "deployment stores", log, everyMs: RETRY_MS, stopped: () => stopped, report });
  await tried;
  return {
    stop: async () => {
      stopped = true;
      for (const it of iterators) it.stop();
    },
  };
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

