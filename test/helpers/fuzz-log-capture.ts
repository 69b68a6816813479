/**
 * An in-memory pino destination for the fuzz test that checks every line as it is written for request
 * bodies: the fuzz marker, or any 100-byte slice of an Arrow test file, in whatever form a logger
 * could print bytes (as text, JSON-escaped, hex, base64, or a Buffer's JSON array of numbers).
 */
import { pino, type Logger } from "pino";

/** A line that printed body bytes. */
export interface Leak {
  what: string;
  line: string;
}

/** Length of a slice that counts as a printed file body. */
const SLICE = 100;
/** Indexed block length: every 100-byte slice of a file contains one whole block aligned at a multiple of 50. */
const BLOCK = SLICE / 2;

/** Captures pino output in memory and scans it for request bodies. */
export class LogCapture {
  /** A debug-level logger writing here; give each service a child of it. */
  readonly logger: Logger;
  /** Lines seen, by level name. */
  readonly levels = new Map<string, number>();
  readonly leaks: Leak[] = [];
  /** The last lines, for a failure message. */
  readonly tail: string[] = [];
  #lines = 0;
  #bytes = 0;
  readonly #marker: Buffer;
  readonly #files: readonly Buffer[];
  /** Aligned 50-byte blocks of the files (latin1 text) → where they are (file, offset). */
  readonly #blocks = new Map<string, [number, number][]>();

  /** Watches for `marker` and for slices of `files`. */
  constructor(marker: string, files: readonly Uint8Array[]) {
    this.#marker = Buffer.from(marker);
    this.#files = files.map((f) => Buffer.from(f.buffer, f.byteOffset, f.byteLength));
    this.#files.forEach((f, i) => {
      for (let at = 0; at + BLOCK <= f.length; at += BLOCK) {
        const key = f.toString("latin1", at, at + BLOCK);
        const seen = this.#blocks.get(key) ?? [];
        // Repeated blocks (runs of zero padding) need only a few places to verify against.
        if (seen.length < 8) seen.push([i, at]);
        this.#blocks.set(key, seen);
      }
    });
    this.logger = pino({ level: "debug" }, { write: (line: string) => this.#scan(line) });
  }

  /** Lines and bytes written so far. */
  get written(): { lines: number; bytes: number } {
    return { lines: this.#lines, bytes: this.#bytes };
  }

  #scan(line: string): void {
    this.#lines++;
    this.#bytes += line.length;
    this.tail.push(line.length > 500 ? `${line.slice(0, 500)}…` : line);
    if (this.tail.length > 50) this.tail.shift();
    // Every form of the line that could hold body bytes; the first leak found is the line's one entry.
    const forms: [string, () => Buffer][] = [["the line", () => Buffer.from(line, "utf8")]];
    let level = "?";
    try {
      const parsed: unknown = JSON.parse(line);
      level = String((parsed as { level?: unknown }).level ?? "?");
      for (const s of stringsIn(parsed)) forms.push(["a string value", () => Buffer.from(s, "latin1")]);
    } catch {
      level = "unparsable";
    }
    this.levels.set(level, (this.levels.get(level) ?? 0) + 1);
    for (const m of line.matchAll(/[A-Za-z0-9+/_-]{24,}={0,2}/g)) forms.push(["base64 text", () => Buffer.from(m[0], /[-_]/.test(m[0]) ? "base64url" : "base64")]);
    for (const m of line.matchAll(/(?:[0-9a-fA-F]{2}){20,}/g)) forms.push(["hex text", () => Buffer.from(m[0], "hex")]);
    for (const m of line.matchAll(/\[(?:\s*\d{1,3}\s*,){19,}\s*\d{1,3}\s*\]/g)) forms.push(["a byte array", () => Buffer.from((JSON.parse(m[0]) as number[]).map((n) => n & 0xff))]);
    for (const [where, bytes] of forms) {
      const what = this.#find(bytes());
      if (what) {
        this.leaks.push({ what: `${what} in ${where}`, line: line.slice(0, 1000) });
        return;
      }
    }
  }

  /** What body bytes `bytes` holds: the marker, a file slice, or nothing. */
  #find(bytes: Buffer): string | undefined {
    if (bytes.includes(this.#marker)) return "the fuzz marker";
    if (bytes.length < SLICE) return undefined;
    const text = bytes.toString("latin1");
    for (let p = 0; p + BLOCK <= bytes.length; p++) {
      const hits = this.#blocks.get(text.slice(p, p + BLOCK));
      if (!hits) continue;
      for (const [file, at] of hits) {
        if (commonRun(bytes, p, this.#files[file]!, at) >= SLICE) return `a ${SLICE}-byte slice of Arrow file ${file} (offset ~${at})`;
      }
    }
    return undefined;
  }
}

/** Length of the common run of `a` and `b` through the aligned block at `a[p]` = `b[q]`. */
function commonRun(a: Buffer, p: number, b: Buffer, q: number): number {
  let left = 0;
  while (p - left > 0 && q - left > 0 && a[p - left - 1] === b[q - left - 1]) left++;
  let right = BLOCK;
  while (p + right < a.length && q + right < b.length && a[p + right] === b[q + right]) right++;
  return left + right;
}

/** Every string in a parsed JSON value (keys too). */
function* stringsIn(value: unknown): Generator<string> {
  if (typeof value === "string") yield value;
  else if (Array.isArray(value)) for (const v of value) yield* stringsIn(v);
  else if (typeof value === "object" && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      yield k;
      yield* stringsIn(v);
    }
  }
}
