import type { JetStreamManager, StreamInfo } from "@nats-io/jetstream";
import { FerryError } from "@ferry/contracts";
import { requireStreams } from "@ferry/runtime";
import type { Logger } from "pino";

/** What the log store holds now. Each stream message holds a batch of records (see LogPublisher). */
export interface LogStoreStats {
  messages: number;
  bytes: number;
  /** Messages removed from the front because the store was full or they aged out. */
  prunedMessages: number;
}

/** How often the stream is opened again while missing, and checked for pruning once open, ms. */
const CHECK_MS = 5000;

/** Messages (record batches) pruned from the front of the stream (by size or age) since it was created. */
export function prunedCount(info: StreamInfo): number {
  return Math.max(0, info.state.first_seq - 1);
}

/**
 * The log stream the logger answers from. The logger never creates it (`provision` does, as the site's
 * admin, with the site's bounds): it opens it, and until it exists says so to every query and tries
 * again every few seconds. Once open, it warns when records are pruned (the store is full or aged).
 */
export class LogStreamWatch {
  readonly #jsm: JetStreamManager;
  readonly #log: Logger;
  readonly stream: string;
  #open = false;
  #why = "not opened yet";
  #lastPruned = 0;
  readonly #timer: NodeJS.Timeout;

  private constructor(jsm: JetStreamManager, stream: string, log: Logger) {
    this.#jsm = jsm;
    this.stream = stream;
    this.#log = log;
    this.#timer = setInterval(() => void (this.#open ? this.#checkPruned() : this.#tryOpen()), CHECK_MS);
    this.#timer.unref();
  }

  /** Opens `stream`, or starts retrying when it is missing (the logger still starts). */
  static async open(jsm: JetStreamManager, stream: string, log: Logger): Promise<LogStreamWatch> {
    const watch = new LogStreamWatch(jsm, stream, log);
    await watch.#tryOpen();
    return watch;
  }

  /** Throws `logs_unavailable` while the stream is not open. */
  requireOpen(): void {
    if (!this.#open) throw new FerryError("logs_unavailable", `the log store is not ready yet: ${this.#why}`);
  }

  async stats(): Promise<LogStoreStats> {
    const info = await this.#jsm.streams.info(this.stream);
    return { messages: info.state.messages, bytes: info.state.bytes, prunedMessages: prunedCount(info) };
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async #tryOpen(): Promise<void> {
    try {
      await requireStreams(this.#jsm, [this.stream]);
      const s = await this.stats();
      this.#lastPruned = s.prunedMessages;
      this.#open = true;
      this.#log.info({ stream: this.stream, messages: s.messages, prunedMessages: s.prunedMessages }, "log stream open");
    } catch (err) {
      const first = this.#why === "not opened yet";
      this.#why = (err as Error).message;
      // Said once at error level, then quietly on each retry.
      if (first) this.#log.error({ err, stream: this.stream }, "log stream not available; retrying");
      else this.#log.warn({ err: this.#why, stream: this.stream }, "log stream still not available");
    }
  }

  async #checkPruned(): Promise<void> {
    const s = await this.stats().catch(() => undefined);
    if (!s) return;
    if (s.prunedMessages > this.#lastPruned) this.#log.warn({ prunedMessages: s.prunedMessages, newly: s.prunedMessages - this.#lastPruned }, "log store full or aged: oldest records pruned");
    this.#lastPruned = s.prunedMessages;
  }
}
