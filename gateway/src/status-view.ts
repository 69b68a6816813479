import type { NatsConnection } from "@nats-io/transport-node";
import { Subjects, inferSubject, type InfererStatus } from "@ferry/contracts";
import { collectStatus } from "./status-client.js";

/** How often the view asks the inferers again, ms. */
const REFRESH_MS = 5000;
/** The same while no inferer has answered yet (a site starting): sooner, so the counts apply soon. */
const UNKNOWN_REFRESH_MS = 1000;

/**
 * The inferers' `ferry.status` reports as the gateway keeps them: read every few seconds, and sooner
 * when a reader asks (one read at a time, shared by everyone waiting for it). Two readers use it:
 * - the coalescer keeps no more envelopes in flight on a subject than inferers answer it: with one
 *   inferer a second envelope only waits in that inferer's queue, while the requests behind it could
 *   have gone together in the next envelope (fewer, fuller envelopes: at 32 connections here 20–60%
 *   more requests/s, alternated runs). Until the first answer, and when none comes, a count is unknown
 *   (`undefined`) and the coalescer keeps its configured limit;
 * - the V2 API's models (pipelines, their versions and signatures), see V2Models.
 * Endpoints that must tell the truth now (`/ready`, `/pipelines`) ask the inferers themselves.
 */
export class StatusView {
  readonly #nc: NatsConnection;
  #statuses: readonly InfererStatus[] = [];
  #counts = new Map<string, number>();
  #readAt = 0;
  #startedAt = -1;
  #generation = 0;
  #reading: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(nc: NatsConnection) {
    this.#nc = nc;
  }

  /** Starts refreshing (now, then every few seconds); the timer does not keep the process alive. */
  start(refreshMs = REFRESH_MS): this {
    const next = (): void => {
      if (this.#stopped) return;
      this.#timer = setTimeout(() => void this.read().then(next), this.#counts.size === 0 ? Math.min(refreshMs, UNKNOWN_REFRESH_MS) : refreshMs);
      this.#timer.unref();
    };
    void this.read().then(next);
    return this;
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  /** Inferers serving `subject` at the last read; undefined when unknown. */
  inferers(subject: string): number | undefined {
    return this.#counts.get(subject);
  }

  /** The last read's reports. */
  get statuses(): readonly InfererStatus[] {
    return this.#statuses;
  }

  /** When the last read ended, ms since the epoch (0 before the first). */
  get readAt(): number {
    return this.#readAt;
  }

  /** Counts the reads: a reader that derives from `statuses` does it again only when this changes. */
  get generation(): number {
    return this.#generation;
  }

  /** Reads the reports now, or waits for the read under way. Never rejects. */
  read(): Promise<void> {
    if (this.#nc.isClosed()) return Promise.resolve();
    if (!this.#reading) this.#startedAt = Date.now();
    this.#reading ??= collectStatus(this.#nc).then(
      (statuses) => this.#took(statuses, statuses.length === 0 ? new Map() : countsOf(statuses)),
      // A status we cannot read: count nothing rather than guess.
      () => this.#took([], new Map()),
    ).finally(() => { this.#reading = undefined; });
    return this.#reading;
  }

  /**
   * A read that started at `since` (ms since the epoch) or later: one under way that started earlier may
   * not have seen what the caller needs (a pipeline deployed a moment ago), so it is waited out and
   * another one made.
   */
  async readSince(since: number): Promise<void> {
    while (this.#startedAt < since && !this.#nc.isClosed()) await this.read();
  }

  #took(statuses: readonly InfererStatus[], counts: Map<string, number>): void {
    // No answer at all (NATS away, inferers restarting): the counts are forgotten, so that the configured limit applies.
    this.#statuses = statuses;
    this.#counts = counts;
    this.#readAt = Date.now();
    this.#generation++;
  }
}

/** Inferers per subject: a pipeline's subject counts those running it, `ferry.infer` those with a current pipeline. */
export function countsOf(statuses: readonly InfererStatus[]): Map<string, number> {
  const counts = new Map<string, number>();
  const add = (subject: string): void => void counts.set(subject, (counts.get(subject) ?? 0) + 1);
  for (const s of statuses) {
    if (s.current) add(Subjects.infer);
    for (const p of s.pipelines) if (p.status === "Running") add(inferSubject(p.id));
  }
  return counts;
}
