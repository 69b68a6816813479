import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import { InfererQueue, Subjects, inferSubject, type InfererStatus, type ModelStatus } from "@ferry/contracts";
import type { Logger } from "pino";
import type { PipelineRuntime } from "./pipeline-runtime.js";

/**
 * What `ferry.status` answers. `detail` says what keeps the inferer from serving all it should (it is
 * not in @ferry/contracts' InfererStatus yet; readers that do not know it ignore it).
 */
/** What an inferer reports on `ferry.status` (kept as a name for the inferer's API). */
export type InfererReport = InfererStatus;

/** A pipeline this inferer serves: the version serving now, and why the latest attempt failed, if it did. */
export interface Entry {
  readonly name: string;
  runtime?: PipelineRuntime;
  /** Why the latest version could not be served (the previous one, if any, keeps serving). */
  detail?: string;
  /** The version that failed, as `/models` reports it. */
  failed?: { version?: string; models: Omit<ModelStatus, "status" | "detail">[] };
  sub?: Subscription;
  /** Loads of this pipeline run one after the other, in publish order. */
  queue: Promise<void>;
}

/** Told when a pipeline starts serving (after each version swapped in), when a version fails to load, and when it is removed. */
export interface PipelineSetHooks {
  /** `replaced`: the version took over from another that was serving. */
  serving?(name: string, replaced: boolean): void;
  failed?(name: string): void;
  removed?(name: string): void;
}

/**
 * The pipelines an inferer serves, with their NATS subscriptions. Swapping a version is atomic: new
 * requests take the new runtime at once; requests in flight finish on the old one, which is released
 * once they have.
 */
export class PipelineSet {
  readonly #nc: NatsConnection;
  readonly #onMessage: (entry: Entry, msg: Msg) => void;
  readonly #log: Logger;
  readonly #entries = new Map<string, Entry>();
  #current: string | undefined;
  #unavailable: string | undefined;
  #currentSub: Subscription | undefined;
  #statusSub: Subscription | undefined;
  readonly #id: string;
  #hooks: PipelineSetHooks;

  constructor(nc: NatsConnection, id: string, onMessage: (entry: Entry, msg: Msg) => void, log: Logger, hooks: PipelineSetHooks = {}) {
    this.#nc = nc;
    this.#hooks = hooks;
    this.#id = id;
    this.#onMessage = onMessage;
    this.#log = log;
    this.#statusSub = nc.subscribe(Subjects.status, { callback: (err, msg) => { if (!err) msg.respond(JSON.stringify(this.status())); } });
  }

  /** Says whom to tell of changes: given after construction, as those told may need this set themselves. */
  notify(hooks: PipelineSetHooks): void {
    this.#hooks = hooks;
  }

  get current(): string | undefined {
    return this.#current;
  }

  /** Loads a version of a pipeline and swaps it in; on failure the serving version stays and `detail` says why. */
  apply(name: string, load: () => Promise<PipelineRuntime>, attempted?: Entry["failed"]): Promise<void> {
    const entry = this.#entry(name);
    entry.queue = entry.queue.then(async () => {
      try {
        const runtime = await load();
        const old = entry.runtime;
        entry.runtime = runtime;
        delete entry.detail;
        delete entry.failed;
        this.#log.info({ pipeline: name, version: runtime.version, models: runtime.models.map((m) => m.name) }, old ? "pipeline swapped" : "pipeline loaded");
        if (old) void old.retire().catch((err: unknown) => this.#log.error({ err }, "releasing the old version failed"));
        this.#hooks.serving?.(name, old !== undefined);
      } catch (err) {
        this.#hooks.failed?.(name);
        entry.detail = (err as Error).message;
        if (attempted) entry.failed = attempted;
        this.#log.error({ pipeline: name, detail: entry.detail, serving: entry.runtime?.version ?? null }, "pipeline version failed to load");
      }
      this.#syncCurrent();
    });
    return entry.queue;
  }

  /** Stops serving a pipeline (undeployed). */
  async remove(name: string): Promise<void> {
    const entry = this.#entries.get(name);
    if (!entry) return;
    this.#entries.delete(name);
    this.#syncCurrent();
    this.#hooks.removed?.(name);
    await entry.sub?.drain();
    await entry.queue;
    await entry.runtime?.retire();
    this.#log.info({ pipeline: name }, "pipeline removed");
  }

  /** Sets the pipeline answered on `ferry.infer`. */
  setCurrent(name: string | undefined): void {
    this.#current = name;
    this.#syncCurrent();
  }

  /** The version serving `name`, if any. */
  runtimeOf(name: string): PipelineRuntime | undefined {
    return this.#entries.get(name)?.runtime;
  }

  /** The inference subjects this inferer answers now. */
  subjects(): string[] {
    return [...(this.#currentSub ? [Subjects.infer] : []), ...[...this.#entries.keys()].map(inferSubject)];
  }

  /** Says what keeps this inferer from serving all it should (e.g. the deployment stores are missing); undefined: nothing. */
  setUnavailable(why: string | undefined): void {
    this.#unavailable = why;
  }

  /** What `ferry.status` answers. */
  status(): InfererReport {
    return {
      inferer: this.#id,
      ...(this.#current ? { current: this.#current } : {}),
      ...(this.#unavailable ? { detail: this.#unavailable } : {}),
      pipelines: [...this.#entries.values()].map((e) => ({
        id: e.name,
        status: e.runtime && !e.detail ? "Running" as const : "Error" as const,
        ...(e.runtime ? { version: e.runtime.version, signature: e.runtime.signature } : {}),
        ...(e.detail ? { detail: e.detail } : {}),
        models: [
          ...(e.runtime?.models ?? []).map((m) => ({ name: m.name, sha: m.sha, status: "Running" as const, version: m.version })),
          ...(e.failed?.models ?? []).map((m) => ({ ...m, status: "Error" as const, ...(e.detail ? { detail: e.detail } : {}) })),
        ],
      })),
    };
  }

  /** Unsubscribes everything (requests in flight still finish) and releases every version. */
  async close(): Promise<void> {
    const subs = [this.#statusSub, this.#currentSub, ...[...this.#entries.values()].map((e) => e.sub)];
    await Promise.all(subs.flatMap((s) => (s ? [s.drain()] : [])));
    await Promise.all([...this.#entries.values()].map(async (e) => {
      await e.queue;
      await e.runtime?.retire();
    }));
  }

  #entry(name: string): Entry {
    let entry = this.#entries.get(name);
    if (!entry) {
      const created: Entry = { name, queue: Promise.resolve() };
      created.sub = this.#nc.subscribe(inferSubject(name), { queue: InfererQueue, callback: (err, msg) => { if (!err) this.#onMessage(created, msg); } });
      this.#entries.set(name, created);
      entry = created;
    }
    return entry;
  }

  /** Answers `ferry.infer` exactly while this inferer has the current pipeline. */
  #syncCurrent(): void {
    const want = this.#current !== undefined && this.#entries.has(this.#current);
    if (want && !this.#currentSub) {
      this.#currentSub = this.#nc.subscribe(Subjects.infer, {
        queue: InfererQueue,
        callback: (err, msg) => {
          const entry = this.#current === undefined ? undefined : this.#entries.get(this.#current);
          if (!err && entry) this.#onMessage(entry, msg);
        },
      });
    } else if (!want && this.#currentSub) {
      void this.#currentSub.drain();
      this.#currentSub = undefined;
    }
  }
}
