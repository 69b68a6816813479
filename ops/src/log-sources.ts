import type { ExternalStream, JetStreamManager, StreamSourceInfo } from "@nats-io/jetstream";
import { HubLogStream } from "@ferry/contracts";
import { ensureStream, hubLogStreamConfig, type StorageSettings } from "@ferry/runtime";
import type { Logger } from "pino";

/** Makes FERRY_LOGS_ALL source exactly these edges (records already synced stay); its definition is the topology's. */
export async function syncLogSources(jsm: JetStreamManager, edges: readonly string[], s: StorageSettings): Promise<void> {
  await ensureStream(jsm, hubLogStreamConfig(s, edges));
}

/** A healthy source hears from its edge (messages or heartbeats) about every second. */
const STALE_NS = 5e9;
/** Restart one edge's source at most this often, ms. */
const RESTART_EVERY_MS = 3000;

/**
 * Restarts an edge's log source when its link is up but the source is idle. A source that failed
 * while the edge was away (it joined before it linked, or the hub restarted first) is retried by
 * nats-server 2.10+ only after a growing back-off: tens of seconds of records held at the edge. Each
 * heartbeat proves the link is up, so an idle source then is restarted at once. The server resumes a
 * re-added source after the last record it holds from it: nothing is stored twice.
 */
export class SourceResumer {
  readonly #jsm: JetStreamManager;
  readonly #storage: StorageSettings;
  readonly #edges: () => Promise<string[]>;
  readonly #log: Logger;
  readonly #last = new Map<string, number>();

  constructor(jsm: JetStreamManager, storage: StorageSettings, joinedEdges: () => Promise<string[]>, log: Logger) {
    this.#jsm = jsm;
    this.#storage = storage;
    this.#edges = joinedEdges;
    this.#log = log;
  }

  /** Called on each heartbeat of `edge`: restarts its source if it has been silent. */
  async contact(edge: string): Promise<void> {
    if (Date.now() - (this.#last.get(edge) ?? 0) < RESTART_EVERY_MS) return;
    const api = `$JS.${edge}.API`;
    // The server reports each source's `external` too; nats.js's StreamSourceInfo type leaves it out.
    const sources = (await this.#jsm.streams.info(HubLogStream)).sources as (StreamSourceInfo & { external?: ExternalStream })[] | undefined;
    const source = sources?.find((s) => s.external?.api === api);
    if (!source || (source.active >= 0 && source.active < STALE_NS)) return;
    this.#last.set(edge, Date.now());
    const edges = await this.#edges();
    if (!edges.includes(edge)) return;
    await syncLogSources(this.#jsm, edges.filter((e) => e !== edge), this.#storage);
    await syncLogSources(this.#jsm, edges, this.#storage);
    this.#log.info({ edge, idleMs: source.active < 0 ? null : Math.round(source.active / 1e6) }, "edge log source restarted (its link is up)");
  }
}
