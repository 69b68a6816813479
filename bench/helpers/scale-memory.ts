// Helpers of bench/scale.ts: resident memory of processes sampled over time, and the figures drawn
// from a series (peak, averages at the ends, linear growth).
import { memoryKiB, type Proc } from "./procs.js";

/** One RSS reading: seconds since sampling began, and MB (10^6 bytes). */
export interface RssPoint {
  s: number;
  mb: number;
}

/** The readings of one process (or the sum of several). */
export interface RssSeries {
  label: string;
  points: RssPoint[];
}

/** A running sampler; `stop()` takes a last reading and returns every series. */
export interface RssSampler {
  stop(): RssSeries[];
}

const mbOfKiB = (kib: number): number => (kib * 1024) / 1e6;

/** Reads the RSS of every process in `procs` now and every `intervalMs` (a process that is gone is skipped). */
export function sampleRss(procs: readonly Proc[], intervalMs: number): RssSampler {
  const start = performance.now();
  const series: RssSeries[] = procs.map((p) => ({ label: p.label, points: [] }));
  const read = (): void => {
    const s = (performance.now() - start) / 1000;
    procs.forEach((p, i) => {
      const m = memoryKiB(p.pid);
      if (m && Number.isFinite(m.now)) series[i]!.points.push({ s, mb: mbOfKiB(m.now) });
    });
  };
  read();
  const timer = setInterval(read, intervalMs);
  return {
    stop: () => {
      clearInterval(timer);
      read();
      return series;
    },
  };
}

/** Point-wise sum of series read together (a reading missing in any series leaves that point out). */
export function sumSeries(label: string, all: readonly RssSeries[]): RssSeries {
  const [first, ...rest] = all;
  const points = (first?.points ?? []).flatMap((p) => {
    const others = rest.map((r) => r.points.find((q) => q.s === p.s));
    return others.every((q) => q !== undefined) ? [{ s: p.s, mb: others.reduce((n, q) => n + q.mb, p.mb) }] : [];
  });
  return { label, points };
}

/** Largest reading, MB. */
export function peakMB(series: RssSeries | undefined): number {
  return series && series.points.length > 0 ? Math.max(...series.points.map((p) => p.mb)) : Number.NaN;
}

/** Mean of the readings with `from <= s <= to`, MB. */
export function meanMB(points: readonly RssPoint[], from: number, to: number): number {
  const inside = points.filter((p) => p.s >= from && p.s <= to);
  return inside.length > 0 ? inside.reduce((n, p) => n + p.mb, 0) / inside.length : Number.NaN;
}

/** Least-squares slope of the readings with `s >= from`, MB per minute. */
export function slopeMBPerMin(points: readonly RssPoint[], from: number): number {
  const xs = points.filter((p) => p.s >= from);
  if (xs.length < 2) return Number.NaN;
  const meanS = xs.reduce((n, p) => n + p.s, 0) / xs.length;
  const meanMb = xs.reduce((n, p) => n + p.mb, 0) / xs.length;
  const cov = xs.reduce((n, p) => n + (p.s - meanS) * (p.mb - meanMb), 0);
  const varS = xs.reduce((n, p) => n + (p.s - meanS) ** 2, 0);
  return varS > 0 ? (cov / varS) * 60 : Number.NaN;
}
