// Value parsers of the option table. Each throws "must be …, got …"; the caller names the flag or the
// environment variable the value came from, so one message serves both.
import { resolve } from "node:path";
import { formatDuration, formatSize, parseDuration, parseSize } from "./units.js";
import { minSecretLength } from "./site-users.js";

/** Reads an option's text; `items` are a repeatable flag's values when it was given that way. */
export interface Parser<T> {
  parse(text: string, items?: readonly string[]): T;
  /** The value as a user would write it (help and docs show defaults so). */
  show?(value: T): string;
}

const got = (text: string): string => `got ${JSON.stringify(text)}`;

export const text: Parser<string> = { parse: (t) => t };

/** A folder or file, resolved against the working directory. */
export const path: Parser<string> = { parse: (t) => resolve(t) };

export const wholeNumber: Parser<number> = {
  parse(t) {
    const n = Number(t);
    if (!Number.isInteger(n) || n < 0) throw new Error(`must be a whole number, ${got(t)}`);
    return n;
  },
};

/** A whole number where 0 means 1 (a count of at least one: workers, requests in flight). */
export const atLeastOne: Parser<number> = { parse: (t) => Math.max(1, wholeNumber.parse(t)) };

/** A TCP port; 0 picks a free one. */
export const port: Parser<number> = {
  parse(t) {
    const n = Number(t);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`must be a port number (0 to 65535), ${got(t)}`);
    return n;
  },
};

/** Bytes, written `10Gi`, `512Mi`, `100Ki`, `1G` or plain. */
export const size: Parser<number> = {
  parse(t) {
    try {
      return parseSize(t);
    } catch {
      throw new Error(`must be a size such as 10Gi, 512Mi or 100Ki, ${got(t)}`);
    }
  },
  show: formatSize,
};

/** Milliseconds, written `30d`, `12h`, `15m`, `90s` or `500ms`. */
export const duration: Parser<number> = {
  parse(t) {
    try {
      return parseDuration(t);
    } catch {
      throw new Error(`must be a duration such as 30d, 12h, 15m or 90s, ${got(t)}`);
    }
  },
  show: formatDuration,
};

/** One of a few words, as written. */
export function oneOf<const W extends string>(words: readonly W[]): Parser<W> {
  return {
    parse(t) {
      if (!(words as readonly string[]).includes(t)) throw new Error(`must be one of ${words.join(", ")}, ${got(t)}`);
      return t as W;
    },
  };
}

export const onOff: Parser<boolean> = {
  parse(t) {
    if (["on", "true", "1", "yes"].includes(t.toLowerCase())) return true;
    if (["off", "false", "0", "no"].includes(t.toLowerCase())) return false;
    throw new Error(`must be on or off, ${got(t)}`);
  },
  show: (v) => (v ? "on" : "off"),
};

/** A flag without a value (parseArgs hands it over as "true"). */
export const presence: Parser<boolean> = { parse: (t) => t === "true", show: (v) => (v ? "on" : "off") };

/** Comma-separated (a repeatable flag's values are taken as they are: a file name may hold a comma). */
export function list<T>(item: Parser<T>): Parser<T[]> {
  return {
    parse: (t, items) => (items ?? t.split(",")).map((s) => s.trim()).filter(Boolean).map((s) => item.parse(s)),
    show: (v) => (v.length === 0 ? "none" : v.map((x) => item.show?.(x) ?? String(x)).join(",")),
  };
}

/** `--batch-window`: off (undefined), or a window of 0 to 1000 ms. */
export const batchWindow: Parser<number | undefined> = {
  parse(t) {
    if (t.toLowerCase() === "off") return undefined;
    const ms = Number(t);
    if (!Number.isFinite(ms) || ms < 0 || ms > 1000) throw new Error(`must be off or 0..1000 ms, ${got(t)}`);
    return ms;
  },
  show: (v) => (v === undefined ? "off" : String(v)),
};

/** The site secret: long enough that its derived passwords cannot be guessed from it. */
export const secret: Parser<string> = {
  parse(t) {
    if (t.length < minSecretLength) throw new Error(`must be at least ${minSecretLength} characters (e.g. openssl rand -base64 32)`);
    return t;
  },
};

/** nats-server's `sync_interval`: `always` (each write on disk before its ack) or a duration. */
export const syncInterval: Parser<string> = {
  parse(t) {
    if (t === "always") return t;
    try {
      return `${Math.max(1, Math.round(parseDuration(t) / 1000))}s`;
    } catch {
      throw new Error(`must be \`always\` or a duration such as 2m or 10s, ${got(t)}`);
    }
  },
};

/** An Ops API token: `ferry_` and 43+ base64url characters (32 random bytes), as `ferry ops token create` makes. */
export const apiToken: Parser<string> = {
  parse(t) {
    // Not echoed back: the value is a secret.
    if (!/^ferry_[A-Za-z0-9_-]{43,}$/.test(t)) throw new Error("must be `ferry_` and 43+ base64url characters, e.g. echo ferry_$(openssl rand -base64 32 | tr '+/' '-_' | tr -d =)");
    return t;
  },
};

/** A token's lifetime, ms: a duration, or `never` (0). */
export const tokenTtl: Parser<number> = {
  parse(t) {
    if (t === "never" || t === "0") return 0;
    const ms = duration.parse(t);
    if (ms === 0) throw new Error(`must be a duration such as 90d or 12h, or never, ${got(t)}`);
    return ms;
  },
  show: (v) => (v === 0 ? "never" : formatDuration(v)),
};
