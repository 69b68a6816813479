/**
 * Sending fuzzed requests (HTTP and NATS) and judging their replies, for test/fuzz.test.ts.
 *
 * The rule for every reply: 2xx, or 4xx with a JSON error `{"error": string, "code": string}` whose
 * code is one of Ferry's and maps to that status. 5xx is a failure, except on inference targets 503
 * `overloaded` and 504 `inferer_timeout` (see LOAD_ANSWERS). A 500, a 503 `no_inferer` and any 5xx
 * from /logs always fail.
 */
import { headers as natsHeadersOf, type NatsConnection } from "@nats-io/transport-node";
import { ErrorCodes, Headers, decodeEnvelope, isErrorCode } from "@ferry/contracts";

/** One reply as the checks see it. */
export interface Reply {
  status: number;
  contentType: string;
  body: Uint8Array;
}

/**
 * 5xx answers allowed from inference targets, by status. They answer the site's load, not the input:
 * the gateway sheds load by design (503 `overloaded`), and a hostile Arrow body may use the decoder's
 * whole time limit while bodies queue behind it on the one decoding thread, so a request can outlast
 * the gateway's reply timeout (504 `inferer_timeout`). They are counted and reported.
 */
export const LOAD_ANSWERS: Readonly<Record<number, readonly string[]>> = { 503: ["overloaded"], 504: ["inferer_timeout"] };

const text = new TextDecoder();

/** What is wrong with a reply, or undefined when it is well formed; `load` lists the 5xx allowed (LOAD_ANSWERS or none). */
export function problemOf(r: Reply, load: Readonly<Record<number, readonly string[]>> = {}): string | undefined {
  if (!Number.isInteger(r.status) || r.status < 200 || r.status > 599) return `status ${r.status}`;
  if (r.status < 300) {
    if (!/json/i.test(r.contentType)) return undefined;
    try {
      JSON.parse(text.decode(r.body));
      return undefined;
    } catch (err) {
      return `${r.status} with a JSON content type and a body that is not JSON: ${(err as Error).message}`;
    }
  }
  if (r.status >= 300 && r.status < 400) return `redirect ${r.status}`;
  if (!/^application\/json\b/i.test(r.contentType)) return `${r.status} with content type ${JSON.stringify(r.contentType)}: ${snippet(r.body)}`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.decode(r.body));
  } catch {
    return `${r.status} with a body that is not JSON: ${snippet(r.body)}`;
  }
  const e = parsed as { error?: unknown; code?: unknown };
  if (typeof parsed !== "object" || parsed === null || typeof e.error !== "string" || typeof e.code !== "string") {
    return `${r.status} with a body that is not {"error","code"}: ${snippet(r.body)}`;
  }
  if (!isErrorCode(e.code)) return `${r.status} with unknown code ${JSON.stringify(e.code)}`;
  if (ErrorCodes[e.code] !== r.status) return `${r.status} with code ${e.code}, which maps to ${ErrorCodes[e.code]}: ${e.error}`;
  if (r.status >= 500 && !(load[r.status] ?? []).includes(e.code)) return `${r.status} ${e.code}: ${e.error}`;
  return undefined;
}

/** The error code of a reply, when it is a JSON error. */
export function codeOf(r: Reply): string | undefined {
  if (r.status < 300 || !/json/i.test(r.contentType)) return undefined;
  try {
    const code = (JSON.parse(text.decode(r.body)) as { code?: unknown }).code;
    return typeof code === "string" ? code : undefined;
  } catch {
    return undefined;
  }
}

function snippet(body: Uint8Array): string {
  const s = text.decode(body.subarray(0, 300));
  return JSON.stringify(body.length > 300 ? `${s}…` : s);
}

/** POSTs a body with exactly these headers (a Uint8Array body gets no default Content-Type). */
export async function httpPost(url: string, body: Uint8Array, headers: Record<string, string>, timeoutMs: number): Promise<Reply> {
  const res = await fetch(url, { method: "POST", body, headers, signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, contentType: res.headers.get("content-type") ?? "", body: new Uint8Array(await res.arrayBuffer()) };
}

/**
 * A NATS request and its reply as Replies: one, or one per part when the reply is a batch envelope.
 * A reply without `Ferry-Status` or `Content-Type`, or with a broken envelope, becomes a reply with
 * status 0 that `problemOf` refuses, naming what was missing.
 */
export async function natsRequest(nc: NatsConnection, subject: string, body: Uint8Array, headers: readonly [string, string][], timeoutMs: number): Promise<Reply[]> {
  const h = natsHeadersOf();
  for (const [k, v] of headers) h.append(k, v);
  const msg = await nc.request(subject, body, { timeout: timeoutMs, headers: h });
  const broken = (what: string): Reply[] => [{ status: 0, contentType: "", body: new TextEncoder().encode(what) }];
  const batch = msg.headers?.get(Headers.batch);
  if (batch) {
    let parts;
    try {
      parts = decodeEnvelope(msg.data, Number(batch));
    } catch (err) {
      return broken(`reply envelope (Ferry-Batch ${batch}) does not decode: ${(err as Error).message}`);
    }
    return parts.map((p) => {
      const status = p.headers[Headers.status];
      const type = p.headers[Headers.contentType];
      if (typeof status !== "string" || typeof type !== "string") return broken(`reply part without Ferry-Status/Content-Type: ${JSON.stringify(p.headers)}`)[0]!;
      return { status: Number(status), contentType: type, body: p.body };
    });
  }
  const status = msg.headers?.get(Headers.status);
  const type = msg.headers?.get(Headers.contentType);
  if (!status || !type) return broken(`reply without Ferry-Status/Content-Type: ${JSON.stringify(Object.fromEntries([...(msg.headers?.keys() ?? [])].map((k) => [k, msg.headers?.get(k)])))}`);
  return [{ status: Number(status), contentType: type, body: msg.data }];
}

/** Counts of what each target answered, for the report. */
export class Tally {
  readonly #byTarget = new Map<string, { inputs: number; outcomes: Map<string, number>; ms: number; slowest: [number, string][] }>();

  /** Notes one input sent to `target` (printed with String(input) when among the slowest) and its replies. */
  add(target: string, input: unknown, replies: readonly Reply[], ms: number): void {
    let t = this.#byTarget.get(target);
    if (!t) this.#byTarget.set(target, (t = { inputs: 0, outcomes: new Map(), ms: 0, slowest: [] }));
    t.inputs++;
    t.ms += ms;
    if (t.slowest.length < 3 || ms > t.slowest[t.slowest.length - 1]![0]) {
      t.slowest.push([ms, `${String(input).slice(0, 300)} → ${replies.map((r) => `${r.status} ${codeOf(r) ?? ""}`).join(", ")}`]);
      t.slowest.sort((a, b) => b[0] - a[0]);
      t.slowest.length = Math.min(t.slowest.length, 3);
    }
    for (const r of replies) {
      const key = `${r.status}${codeOf(r) ? ` ${codeOf(r)}` : ""}`;
      t.outcomes.set(key, (t.outcomes.get(key) ?? 0) + 1);
    }
  }

  /** Inputs sent to `target`, or to all targets. */
  inputs(target?: string): number {
    if (target) return this.#byTarget.get(target)?.inputs ?? 0;
    let n = 0;
    for (const t of this.#byTarget.values()) n += t.inputs;
    return n;
  }

  /** Replies with this status, over all targets. */
  count(status: number): number {
    let n = 0;
    for (const t of this.#byTarget.values()) for (const [k, c] of t.outcomes) if (k.startsWith(`${status}`)) n += c;
    return n;
  }

  /** One line per target: inputs, mean latency, outcomes by count; with `slowest`, its slowest inputs too. */
  lines(slowest = false): string[] {
    return [...this.#byTarget].map(([name, t]) => {
      const outcomes = [...t.outcomes].sort((a, b) => b[1] - a[1]).map(([k, c]) => `${k}×${c}`).join(", ");
      const slow = slowest ? t.slowest.map(([ms, what]) => `\n    ${ms} ms: ${what}`).join("") : "";
      return `${name}: ${t.inputs} inputs, ${(t.ms / Math.max(1, t.inputs)).toFixed(1)} ms mean; ${outcomes}${slow}`;
    });
  }
}
