import { Worker } from "node:worker_threads";
import { FerryError, arrowTable, type InputTable } from "@ferry/contracts";
import type { DecodeJob, DecodeResult } from "./arrow-worker.js";

/** Limits of the Arrow decoding thread. */
export interface ArrowDecoderOptions {
  /**
   * A body still decoding after this long is refused and its thread replaced, ms. Default 3000: a 16 MiB
   * body decodes in well under 100 ms, and requests coalesced with a hostile body wait for it this long.
   */
  timeoutMs?: number;
  /** Heap limit of the decoding thread, MiB. Default 1024. */
  maxHeapMb?: number;
}

interface Pending {
  body: Uint8Array;
  resolve: (t: InputTable) => void;
  reject: (e: FerryError) => void;
  timer: NodeJS.Timeout;
}

/**
 * Decodes Arrow bodies on a worker thread. arrow-js trusts the flatbuffer metadata it reads, and a
 * hostile body can make it loop for minutes or allocate without bound; on a worker, a time or memory
 * limit ends that one request with 400 instead of stalling or killing the inferer.
 */
export class ArrowDecoder {
  readonly #timeoutMs: number;
  readonly #maxHeapMb: number;
  #worker: Worker | undefined;
  #nextId = 0;
  readonly #pending = new Map<number, Pending>();

  constructor(options: ArrowDecoderOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? 3000;
    this.#maxHeapMb = options.maxHeapMb ?? 1024;
  }

  /** Starts the thread now, so that the first request does not wait for it. */
  start(): this {
    this.#ensureWorker();
    return this;
  }

  /** Decodes a body; rejects with FerryError `bad_arrow` (or the column error's code). */
  decode(body: Uint8Array): Promise<InputTable> {
    const id = this.#nextId++;
    return new Promise<InputTable>((resolve, reject) => {
      this.#pending.set(id, { body, resolve, reject, timer: this.#post(id, body) });
    });
  }

  #post(id: number, body: Uint8Array): NodeJS.Timeout {
    // A copy whose buffer is ours to transfer: NATS hands out Buffers, whose slice() is a view into the
    // connection's read buffer (transferring that would detach it and break the connection).
    const copy = new Uint8Array(body.byteLength);
    copy.set(body);
    this.#ensureWorker().postMessage({ id, body: copy } satisfies DecodeJob, [copy.buffer]);
    return setTimeout(() => this.#fail(new FerryError("bad_arrow", `Arrow body did not decode within ${this.#timeoutMs} ms`)), this.#timeoutMs);
  }

  /** Stops the thread; pending decodes fail. */
  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    this.#rejectAll(new FerryError("internal", "Arrow decoder closed"));
    await worker?.terminate();
  }

  #ensureWorker(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(new URL("./arrow-worker.js", import.meta.url), { execArgv: [], resourceLimits: { maxOldGenerationSizeMb: this.#maxHeapMb } });
    worker.unref();
    worker.on("message", (r: DecodeResult) => this.#settle(r));
    worker.on("error", (err) => this.#fail(new FerryError("bad_arrow", `Arrow body could not be decoded: ${err.message}`)));
    worker.on("exit", () => { if (this.#worker === worker) this.#fail(new FerryError("bad_arrow", "Arrow decoder thread ended")); });
    this.#worker = worker;
    return worker;
  }

  #settle(r: DecodeResult): void {
    const p = this.#pending.get(r.id);
    if (!p) return;
    this.#pending.delete(r.id);
    clearTimeout(p.timer);
    if ("decoded" in r) p.resolve(arrowTable(r.decoded));
    else p.reject(new FerryError(r.code, r.message));
  }

  /**
   * The thread is stuck or gone. It works in order, so the oldest body is the one that broke it:
   * that one fails; the others go to a new thread.
   */
  #fail(err: FerryError): void {
    const worker = this.#worker;
    this.#worker = undefined;
    void worker?.terminate();
    const [culprit, ...rest] = this.#pending.entries();
    if (!culprit) return;
    this.#pending.delete(culprit[0]);
    clearTimeout(culprit[1].timer);
    culprit[1].reject(err);
    for (const [id, p] of rest) {
      clearTimeout(p.timer);
      p.timer = this.#post(id, p.body);
    }
  }

  #rejectAll(err: FerryError): void {
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.#pending.clear();
  }
}
