/**
 * The batch envelope: several inference requests (or their replies) framed into one NATS message.
 * A NATS message costs far more CPU in Node than a small model run, so the gateway coalesces the
 * requests waiting for one pipeline and the inferer answers all of them with one session run.
 *
 * Layout, big-endian: for each part `u32 headerLength, header JSON (UTF-8), u32 bodyLength, body`.
 * The message carrying it has the header `Ferry-Batch: <parts>`.
 */

/** One request or reply inside a batch envelope. */
export interface EnvelopePart {
  /** Header name → value, as the message would carry them alone (e.g. Content-Type, Accept, Ferry-Status). */
  headers: Record<string, string>;
  body: Uint8Array;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Frames parts into one envelope body: one allocation, the headers written into it in place. Every
 * request and reply crosses here, and a TextEncoder.encode per part cost a fresh ArrayBuffer each.
 */
export function encodeEnvelope(parts: readonly EnvelopePart[]): Uint8Array {
  const heads = parts.map((p) => JSON.stringify(p.headers));
  let size = 0;
  for (let i = 0; i < parts.length; i++) size += 8 + utf8Length(heads[i]!) + parts[i]!.body.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  for (let i = 0; i < parts.length; i++) {
    const written = encoder.encodeInto(heads[i]!, out.subarray(at + 4)).written;
    view.setUint32(at, written);
    at += 4 + written;
    const body = parts[i]!.body;
    view.setUint32(at, body.length);
    out.set(body, at + 4);
    at += 4 + body.length;
  }
  return out;
}

/** Size in bytes that a part adds to an envelope, so a sender can keep under the NATS max payload. */
export function envelopePartSize(headers: Record<string, string>, bodyLength: number): number {
  return 8 + utf8Length(JSON.stringify(headers)) + bodyLength;
}

/** The UTF-8 byte length of a string, counted without encoding it (a lone surrogate encodes as U+FFFD, 3 bytes). */
function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      i++; // a surrogate pair: 2 UTF-16 units, 4 bytes
      n += 2;
    } else {
      n += 2;
    }
  }
  return n;
}

/**
 * Splits an envelope body into its parts (bodies are views into `data`, not copies).
 * Throws a RangeError when the framing is broken or the count differs from `expected`.
 */
export function decodeEnvelope(data: Uint8Array, expected?: number): EnvelopePart[] {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const parts: EnvelopePart[] = [];
  let at = 0;
  while (at < data.length) {
    const head = readFrame(data, view, at);
    const body = readFrame(data, view, head.next);
    const headers: unknown = JSON.parse(decoder.decode(head.bytes));
    if (typeof headers !== "object" || headers === null || Array.isArray(headers)) {
      throw new RangeError("batch envelope: part headers are not an object");
    }
    if (Object.values(headers).some((v) => typeof v !== "string")) throw new RangeError("batch envelope: a part header value is not a string");
    parts.push({ headers: headers as Record<string, string>, body: body.bytes });
    at = body.next;
  }
  if (expected !== undefined && parts.length !== expected) {
    throw new RangeError(`batch envelope: ${parts.length} parts, expected ${expected}`);
  }
  return parts;
}

function readFrame(data: Uint8Array, view: DataView, at: number): { bytes: Uint8Array; next: number } {
  if (at + 4 > data.length) throw new RangeError("batch envelope: truncated frame length");
  const length = view.getUint32(at);
  const end = at + 4 + length;
  if (end > data.length) throw new RangeError("batch envelope: truncated frame");
  return { bytes: data.subarray(at + 4, end), next: end };
}
