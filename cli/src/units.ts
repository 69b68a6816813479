// The CLI's size and duration syntax (flags and environment variables). Kept here, not in contracts:
// only the command line reads these.

/** Parses a storage size such as `10Gi`, `512Mi`, `100Ki`, `1G` or `1048576` into bytes. */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?)?B?\s*$/i.exec(text);
  if (!m) throw new Error(`not a size: ${JSON.stringify(text)} (use e.g. 10Gi, 512Mi, 100Ki)`);
  const unit = (m[2] ?? "").toUpperCase();
  const power = { "": 0, K: 1, M: 2, G: 3, T: 4 }[unit[0] ?? ""] ?? 0;
  const base = unit.endsWith("I") ? 1024 : 1000;
  return Math.floor(Number(m[1]) * base ** power);
}

/** Parses a duration such as `30d`, `12h`, `15m`, `90s` or `500ms` into ms. */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/i.exec(text);
  if (!m) throw new Error(`not a duration: ${JSON.stringify(text)} (use e.g. 30d, 12h, 15m)`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2]!.toLowerCase() as "ms"];
  return Math.floor(Number(m[1]) * unit);
}

/** Bytes in the largest binary unit that divides them (`10Gi`), for help texts; parseSize reads it back. */
export function formatSize(bytes: number): string {
  for (const [unit, size] of [["Ti", 2 ** 40], ["Gi", 2 ** 30], ["Mi", 2 ** 20], ["Ki", 2 ** 10]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return String(bytes);
}

/** Milliseconds in the largest unit that divides them (`7d`), for help texts; parseDuration reads it back. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], ["s", 1000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
