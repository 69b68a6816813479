import { Observable, Subject, asapScheduler, asyncScheduler, mergeMap, timer, type OperatorFunction, type Subscription } from "rxjs";
import type { EnvelopePart } from "@ferry/contracts";
import { errorReply, type PartReply } from "./infer-parts.js";

/** When a batch closes. */
export interface BatchWindow {
  /** A batch closes this long after its first request, ms; 0 closes it once the current task ends (requests that arrived together). */
  windowMs: number;
  /** ...or as soon as it holds this many requests. */
  maxBatch: number;
}

/**
 * Groups items into batches: a batch opens with its first item and closes `windowMs` later, or when
 * `sizeOf` its items reaches `maxBatch`. No timer runs while no batch is open.
 */
export function batchWindows<T>(w: BatchWindow, sizeOf: (item: T) => number): OperatorFunction<T, T[]> {
  return (source) => new Observable<T[]>((out) => {
    let batch: T[] = [];
    let size = 0;
    let closing: Subscription | undefined;
    const flush = (): void => {
      closing?.unsubscribe();
      closing = undefined;
      if (batch.length === 0) return;
      const full = batch;
      batch = [];
      size = 0;
      out.next(full);
    };
    const sub = source.subscribe({
      next: (item) => {
        batch.push(item);
        size += sizeOf(item);
        if (size >= w.maxBatch) flush();
        else closing ??= timer(w.windowMs, w.windowMs > 0 ? asyncScheduler : asapScheduler).subscribe(flush);
      },
      error: (err: unknown) => out.error(err),
      complete: () => {
        flush();
        out.complete();
      },
    });
    return () => {
      sub.unsubscribe();
      closing?.unsubscribe();
    };
  });
}

interface Pending {
  parts: readonly EnvelopePart[];
  resolve(replies: PartReply[]): void;
}

/**
 * Merges concurrent requests for one pipeline version into one run: requests submitted within a
 * window go to `run` together, and each gets its own replies back.
 */
export class Batcher {
  readonly #arrivals = new Subject<Pending>();
  readonly #closed: Promise<void>;
  readonly #run: (parts: readonly EnvelopePart[]) => Promise<PartReply[]>;
  #open = true;

  constructor(run: (parts: readonly EnvelopePart[]) => Promise<PartReply[]>, window: BatchWindow) {
    this.#run = run;
    this.#closed = new Promise((resolve) => {
      this.#arrivals.pipe(
        batchWindows(window, (p) => p.parts.length),
        mergeMap((batch) => this.#runBatch(batch)),
      ).subscribe({ complete: resolve });
    });
  }

  /** Runs `parts` with whatever other requests arrive within the window; resolves to their replies, in order. */
  submit(parts: readonly EnvelopePart[]): Promise<PartReply[]> {
    if (!this.#open) return this.#run(parts);
    return new Promise((resolve) => this.#arrivals.next({ parts, resolve }));
  }

  /** Runs what is waiting and stops batching (later requests run alone). */
  close(): Promise<void> {
    this.#open = false;
    this.#arrivals.complete();
    return this.#closed;
  }

  async #runBatch(batch: readonly Pending[]): Promise<void> {
    const parts = batch.length === 1 ? batch[0]!.parts : batch.flatMap((p) => p.parts);
    const replies = await this.#run(parts).catch((err: unknown) => parts.map(() => errorReply(err)));
    let at = 0;
    for (const p of batch) {
      p.resolve(replies.slice(at, at + p.parts.length));
      at += p.parts.length;
    }
  }
}
