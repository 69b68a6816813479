import { FerryError } from "./errors.js";

/** One inference log record, as the spec's `/logs` returns it. */
export interface LogRecord {
  /** ms since the epoch. */
  time: number;
  /** Input column → that row's values (columns in `metadata.dropped` are left out). */
  in: Record<string, unknown>;
  /** Output name → that row's values. */
  out: Record<string, unknown[]>;
  /** `count` of failed validations, plus one flag per validation. */
  anomaly: { count: number } & Record<string, unknown>;
  metadata: {
    /** JSON text of `{"model_name", "model_sha"}`, as the spec shows it. */
    last_model: string;
    pipeline_version: string;
    elapsed: number[];
    dropped: string[];
    partition: string;
  };
}

/** Response headers that carry `/logs` paging state (the body stays a plain records array). */
export const LogPagingHeaders = {
  cursor: "x-iteration-cursor",
  status: "x-iteration-status",
} as const;

/** The most records one `/logs` page returns. */
export const MAX_LOG_PAGE = 10_000;
/** Records per page when the request does not say. */
export const DEFAULT_LOG_PAGE = 1000;

/** A checked `/logs` request (Wallaroo's central log API parameter names). */
export interface LogQuery {
  pipeline?: string;
  /** Only records of this site (edge name); on the Ops hub, which holds every edge's. */
  partition?: string;
  /** ms since the epoch, inclusive. */
  startTime?: number;
  /** ms since the epoch, inclusive. */
  endTime?: number;
  pageSize: number;
  order: "asc" | "desc";
  cursor?: string;
}

const decoder = new TextDecoder();

/** A parameter's value for an error message: short, and safe for values too deep to stringify. */
function shown(value: unknown): string {
  try {
    const text = JSON.stringify(value) ?? String(value);
    return text.length > 100 ? `${text.slice(0, 100)}…` : text;
  } catch {
    return `${Array.isArray(value) ? "a list" : "an object"} too deep to show`;
  }
}

/** Times JavaScript's Date and JetStream's seek can hold, with a day to spare: years 0000–9999. */
const MIN_TIME = -62_167_219_200_000;
const MAX_TIME = 253_402_214_400_000;

function inRange(name: string, t: number): number {
  if (t < MIN_TIME || t > MAX_TIME) throw new FerryError("bad_request", `${name} must be within the years 0000–9999, got ${t}`);
  return t;
}

function timeParam(name: string, value: unknown): number | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value === "number" && Number.isFinite(value)) return inRange(name, value);
  if (typeof value === "string") {
    if (/^\d+$/.test(value)) return inRange(name, Number(value));
    const t = Date.parse(value);
    if (!Number.isNaN(t) && /^\d{4}-\d{2}-\d{2}/.test(value)) return inRange(name, t);
  }
  throw new FerryError("bad_request", `${name} must be an RFC 3339 time or ms since the epoch, got ${shown(value)}`);
}

/**
 * Reads a `/logs` request body. An empty body or `{}` asks for the latest page. Accepts `pipeline`, `partition`,
 * `start_time`, `end_time`, `page_size` (alias `limit`), `order` (`Asc`/`Desc`, any case), `cursor`.
 * Throws FerryError `bad_request` (400) naming the bad parameter.
 */
export function parseLogQuery(body: Uint8Array): LogQuery {
  const text = decoder.decode(body).trim();
  let value: unknown = {};
  if (text) {
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new FerryError("bad_json", `/logs body is not JSON: ${(err as Error).message}`, { cause: err });
    }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new FerryError("bad_request", "/logs body must be a JSON object such as {}");
  const p = value as Record<string, unknown>;
  const known = new Set(["pipeline", "pipeline_name", "partition", "start_time", "end_time", "page_size", "limit", "order", "cursor"]);
  const unknown = Object.keys(p).filter((k) => !known.has(k));
  if (unknown.length > 0) throw new FerryError("bad_request", `unknown /logs parameter(s): ${unknown.join(", ")}`);
  const pipeline = p.pipeline ?? p.pipeline_name;
  if (pipeline !== undefined && (typeof pipeline !== "string" || !/^[A-Za-z0-9_-]{1,128}$/.test(pipeline))) {
    throw new FerryError("bad_request", `pipeline must be a pipeline name, got ${shown(pipeline)}`);
  }
  if (p.partition !== undefined && (typeof p.partition !== "string" || p.partition.length === 0 || p.partition.length > 253)) {
    throw new FerryError("bad_request", `partition must be a site (edge) name, got ${shown(p.partition)}`);
  }
  const size = p.page_size ?? p.limit ?? DEFAULT_LOG_PAGE;
  if (typeof size !== "number" || !Number.isInteger(size) || size < 1) throw new FerryError("bad_request", `page_size must be a positive whole number, got ${shown(size)}`);
  const order = String(p.order ?? "asc").toLowerCase();
  if (order !== "asc" && order !== "desc") throw new FerryError("bad_request", `order must be Asc or Desc, got ${shown(p.order)}`);
  if (p.cursor !== undefined && typeof p.cursor !== "string") throw new FerryError("bad_request", "cursor must be the string from x-iteration-cursor");
  const startTime = timeParam("start_time", p.start_time);
  const endTime = timeParam("end_time", p.end_time);
  if (startTime !== undefined && endTime !== undefined && startTime > endTime) throw new FerryError("bad_request", "start_time is after end_time");
  return {
    ...(pipeline ? { pipeline } : {}),
    ...(typeof p.partition === "string" ? { partition: p.partition } : {}),
    ...(startTime !== undefined ? { startTime } : {}),
    ...(endTime !== undefined ? { endTime } : {}),
    pageSize: Math.min(size, MAX_LOG_PAGE),
    order,
    ...(p.cursor ? { cursor: p.cursor } : {}),
  };
}
