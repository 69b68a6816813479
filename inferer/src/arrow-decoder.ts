import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { FerryError, arrowTable, type InputTable } from "@ferry/contracts";
import type { DecodeJob, DecodeResult } from "./arrow-worker.js";

/** Limits of the Arrow decoding threads. */
export interface ArrowDecoderOptions {
  /**
   * A body still decoding after this long on its thread is refused (400 `bad_arrow`) and the thread
   * replaced, ms. Default 3000: a 16 MiB body decodes in well under 100 ms. The clock starts when a
   * thread takes the body, so bodies waiting behind hostile ones are not refused for it.
   */
  timeoutMs?: number;
  /** Heap limit of each decoding thread, MiB. Default 256 (a 16 MiB body needs well under 100). */
  maxHeapMb?: number;
  /** Decoding threads: hostile bodies hold one each for up to timeoutMs. Default {@link defaultDecoderThreads}. */
  threads?: number;
}

/** Two threads, or half the cores up to four: one hostile body then never holds all of them. */
export function defaultDecoderThreads(cores = availableParallelism()): number {
  return Math.min(4, Math.max(2, Math.floor(cores / 2)));
}

interface Job {
  id: number;
  body: Uint8Array;
  resolve: (t: InputTable) => void;
  reject: (e: FerryError) => void;
}

/** One decoding thread and the body it is decoding, if any. */
interface Slot {
  worker?: Worker;
  job?: Job;
  timer?: NodeJS.Timeout;
}

/**
 * Decodes Arrow bodies on a pool of worker threads, one body per thread at a time. arrow-js trusts the
 * flatbuffer metadata it reads, and a hostile body can make it loop for minutes or allocate without
 * bound; on a worker, a time or memory limit ends that one request with 400 instead of stalling or
 * killing the inferer, and the other threads go on decoding everyone else's bodies meanwhile.
 */
export class ArrowDecoder {
  readonly #timeoutMs: number;
  readonly #maxHeapMb: number;
  readonly #slots: Slot[];
  readonly #queue: Job[] = [];
  #nextId = 0;
  #closed = false;

  constructor(options: ArrowDecoderOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? 3000;
    this.#maxHeapMb = options.maxHeapMb ?? 256;
    this.#slots = Array.from({ length: Math.max(1, options.threads ?? defaultDecoderThreads()) }, () => ({}));
  }

  /** Starts the threads now, so that the first requests do not wait for them. */
  start(): this {
    for (const slot of this.#slots) this.#workerOf(slot);
    return this;
  }

  /** Decodes a body; rejects with FerryError `bad_arrow` (or the column error's code). */
  decode(body: Uint8Array): Promise<InputTable> {
    if (this.#closed) return Promise.reject(new FerryError("internal", "Arrow decoder closed"));
    return new Promise<InputTable>((resolve, reject) => {
      this.#queue.push({ id: this.#nextId++, body, resolve, reject });
      this.#dispatch();
    });
  }

  /** Stops the threads; pending decodes fail. */
  async close(): Promise<void> {
    this.#closed = true;
    const err = new FerryError("internal", "Arrow decoder closed");
    for (const job of this.#queue.splice(0)) job.reject(err);
    await Promise.all(this.#slots.map(async (slot) => {
      this.#finish(slot)?.reject(err);
      const worker = slot.worker;
      slot.worker = undefined;
      await worker?.terminate();
    }));
  }

  #dispatch(): void {
    for (const slot of this.#slots) {
      if (this.#queue.length === 0) return;
      if (!slot.job) this.#post(slot, this.#queue.shift()!);
    }
  }

  #post(slot: Slot, job: Job): void {
    // A copy whose buffer is ours to transfer: NATS hands out Buffers, whose slice() is a view into the
    // connection's read buffer (transferring that would detach it and break the connection).
    const copy = new Uint8Array(job.body.byteLength);
    copy.set(job.body);
    slot.job = job;
    slot.timer = setTimeout(() => this.#fail(slot, new FerryError("bad_arrow", `Arrow body did not decode within ${this.#timeoutMs} ms`)), this.#timeoutMs);
    this.#workerOf(slot).postMessage({ id: job.id, body: copy } satisfies DecodeJob, [copy.buffer]);
  }

  #workerOf(slot: Slot): Worker {
    if (slot.worker) return slot.worker;
    const worker = new Worker(new URL("./arrow-worker.js", import.meta.url), { execArgv: [], resourceLimits: { maxOldGenerationSizeMb: this.#maxHeapMb } });
    worker.unref();
    worker.on("message", (r: DecodeResult) => this.#settle(slot, r));
    worker.on("error", (err) => this.#fail(slot, new FerryError("bad_arrow", `Arrow body could not be decoded: ${err.message}`)));
    worker.on("exit", () => { if (slot.worker === worker) this.#fail(slot, new FerryError("bad_arrow", "Arrow decoder thread ended")); });
    slot.worker = worker;
    return worker;
  }

  /** The slot's job, now off the slot (its timer stopped). */
  #finish(slot: Slot): Job | undefined {
    const job = slot.job;
    clearTimeout(slot.timer);
    slot.job = undefined;
    slot.timer = undefined;
    return job;
  }

  #settle(slot: Slot, r: DecodeResult): void {
    if (slot.job?.id !== r.id) return;
    const job = this.#finish(slot)!;
    if ("decoded" in r) job.resolve(arrowTable(r.decoded));
    else job.reject(new FerryError(r.code, r.message));
    this.#dispatch();
  }

  /** The slot's thread is stuck or gone: its body is the one that broke it. The thread is replaced. */
  #fail(slot: Slot, err: FerryError): void {
    const worker = slot.worker;
    slot.worker = undefined;
    void worker?.terminate();
    this.#finish(slot)?.reject(err);
    if (this.#closed) return;
    this.#workerOf(slot);
    this.#dispatch();
  }
}
