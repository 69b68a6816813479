import { randomUUID } from "node:crypto";
import type { DashboardStats, TrafficSnapshot } from "@ferry/contracts";

/** How many complete seconds `/ui/stats` reports. */
const WINDOW_SECONDS = 60;
/** How many of the last complete seconds the `recent` summary covers. */
const RECENT_SECONDS = 5;
/** Latency buckets: upper bounds growing by 20% from 50 µs to past a minute, so a quantile is off by at most 20%. */
const BUCKET_BOUNDS_MS: readonly number[] = Array.from({ length: 79 }, (_, k) => 0.05 * 1.2 ** k);

/** One second's traffic: counts and a latency histogram. */
interface Slot {
  /** The second (ms epoch ÷ 1000, floored) this slot holds; another value means the slot is stale. */
  second: number;
  requests: number;
  errors: number;
  buckets: Uint32Array;
}

/** The gateway's inference traffic over the last minute, one slot per second in a ring (bounded memory, O(1) per request). */
export class TrafficWindow {
  /** This gateway's id in snapshots, so that a merge counts each gateway once. */
  readonly id = randomUUID();
  readonly #slots: Slot[] = Array.from({ length: WINDOW_SECONDS + 1 }, () => ({ second: -1, requests: 0, errors: 0, buckets: new Uint32Array(BUCKET_BOUNDS_MS.length + 1) }));
  readonly #since = Date.now();
  #requests = 0;
  #errors = 0;

  /** Counts one answered inference request. */
  observe(status: number, ms: number, now = Date.now()): void {
    const slot = this.#slot(Math.floor(now / 1000));
    slot.requests++;
    this.#requests++;
    if (status >= 400) {
      slot.errors++;
      this.#errors++;
    }
    slot.buckets[bucketOf(ms)]++;
  }

  /** What this gateway answers on `ferry.gateway.traffic`: its totals and its seconds with traffic in the window. */
  snapshot(now = Date.now()): TrafficSnapshot {
    const current = Math.floor(now / 1000);
    const seconds = this.#slots
      .filter((slot) => slot.second >= current - WINDOW_SECONDS && slot.second <= current && slot.requests > 0)
      .map((slot) => ({ second: slot.second, requests: slot.requests, errors: slot.errors, buckets: Array.from(slot.buckets) }));
    return { gateway: this.id, since: this.#since, requests: this.#requests, errors: this.#errors, buckets: BUCKET_BOUNDS_MS.length + 1, seconds };
  }

  #slot(second: number): Slot {
    const slot = this.#slots[second % this.#slots.length]!;
    if (slot.second !== second) {
      slot.second = second;
      slot.requests = 0;
      slot.errors = 0;
      slot.buckets.fill(0);
    }
    return slot;
  }
}

/**
 * Sums gateways' snapshots (each gateway once, the first snapshot of an id wins; snapshots with other
 * latency buckets are left out) into the last complete seconds before `now` and their summary.
 */
export function mergeTraffic(snapshots: readonly TrafficSnapshot[], now = Date.now()): Omit<DashboardStats, "nats"> {
  const width = BUCKET_BOUNDS_MS.length + 1;
  const seen = new Set<string>();
  const used: TrafficSnapshot[] = [];
  for (const snap of snapshots) {
    if (snap.buckets !== width || seen.has(snap.gateway)) continue;
    seen.add(snap.gateway);
    used.push(snap);
  }
  const current = Math.floor(now / 1000);
  const bySecond = new Map<number, { requests: number; errors: number; buckets: Uint32Array }>();
  for (const snap of used) {
    for (const sec of snap.seconds) {
      if (sec.second < current - WINDOW_SECONDS || sec.second >= current || sec.buckets.length !== width) continue;
      let into = bySecond.get(sec.second);
      if (!into) bySecond.set(sec.second, (into = { requests: 0, errors: 0, buckets: new Uint32Array(width) }));
      into.requests += sec.requests;
      into.errors += sec.errors;
      for (let i = 0; i < width; i++) into.buckets[i] += sec.buckets[i]!;
    }
  }
  const seconds: DashboardStats["seconds"] = [];
  const recent = new Uint32Array(width);
  let recentRequests = 0;
  for (let s = current - WINDOW_SECONDS; s < current; s++) {
    const slot = bySecond.get(s);
    seconds.push({ time: s * 1000, requests: slot?.requests ?? 0, errors: slot?.errors ?? 0, p50_ms: quantile(slot?.buckets, 0.5), p99_ms: quantile(slot?.buckets, 0.99) });
    if (slot && s >= current - RECENT_SECONDS) {
      recentRequests += slot.requests;
      for (let i = 0; i < width; i++) recent[i] += slot.buckets[i]!;
    }
  }
  return {
    now,
    gateways: Math.max(1, used.length),
    seconds,
    recent: { span_s: RECENT_SECONDS, requests_per_s: recentRequests / RECENT_SECONDS, p50_ms: quantile(recent, 0.5), p99_ms: quantile(recent, 0.99) },
    total: {
      requests: used.reduce((n, s) => n + s.requests, 0),
      errors: used.reduce((n, s) => n + s.errors, 0),
      since: used.length ? Math.min(...used.map((s) => s.since)) : now,
    },
  };
}

function bucketOf(ms: number): number {
  // Few buckets: a linear scan costs less than the log it would replace.
  let i = 0;
  while (i < BUCKET_BOUNDS_MS.length && ms > BUCKET_BOUNDS_MS[i]!) i++;
  return i;
}

/** The upper bound of the bucket holding quantile `q`, ms, rounded to 3 digits; null when the histogram is empty. */
function quantile(buckets: Uint32Array | undefined, q: number): number | null {
  if (!buckets) return null;
  const n = buckets.reduce((a, b) => a + b, 0);
  if (n === 0) return null;
  const rank = Math.ceil(q * n);
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    seen += buckets[i];
    if (seen >= rank) {
      const bound = BUCKET_BOUNDS_MS[Math.min(i, BUCKET_BOUNDS_MS.length - 1)]!;
      return Number(bound.toPrecision(3));
    }
  }
  return null;
}
