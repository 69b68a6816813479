/**
 * The one place the inference request/reply framing is written: which headers a request part carries,
 * how a reply says its status, and how a batch (an envelope of parts) is marked. Gateway, inferer and
 * client all frame through these functions, so a header name or a default lives here only.
 */
import { decodeEnvelope, type EnvelopePart } from "./batch-envelope.js";
import { MediaTypes } from "./content-types.js";
import { Headers } from "./headers.js";

/** Anything that reads a header by name: nats.js `MsgHdrs`, a plain record wrapped by `recordHeaders`. */
export interface HeaderSource {
  get(name: string): string | undefined | null;
}

/** What a request part says besides its body. */
export interface InferRequestMeta {
  contentType?: string;
  accept?: string;
  /** The key an A/B split routes by. */
  splitKey?: string;
  requestId?: string;
}

/** The headers an inference request (or a part of a batch) carries. */
export const RequestHeaders = [Headers.contentType, Headers.accept, Headers.splitKey, Headers.requestId] as const;

/** A request's headers as a record, only those given. */
export function requestHeaders(m: InferRequestMeta): Record<string, string> {
  const h: Record<string, string> = {};
  if (m.contentType) h[Headers.contentType] = m.contentType;
  if (m.accept) h[Headers.accept] = m.accept;
  if (m.splitKey) h[Headers.splitKey] = m.splitKey;
  if (m.requestId) h[Headers.requestId] = m.requestId;
  return h;
}

/** One request carried by a plain (not enveloped) message: its body and the request headers it has. */
export function requestPart(headers: HeaderSource | undefined, body: Uint8Array): EnvelopePart {
  const h: Record<string, string> = {};
  for (const name of RequestHeaders) {
    const value = headers?.get(name);
    if (value) h[name] = value;
  }
  return { headers: h, body };
}

/** An answer to one request part. */
export interface InferReply {
  status: number;
  contentType: string;
  body: Uint8Array;
}

/** The headers of a reply (or of a reply part in a batch). */
export function replyHeaders(r: { status: number; contentType: string }): Record<string, string> {
  return { [Headers.status]: String(r.status), [Headers.contentType]: r.contentType };
}

/** Reads a reply: no status header means 200 (a plain JSON answer); no content type means `fallbackType`. */
export function readReply(headers: HeaderSource | undefined, body: Uint8Array, fallbackType: string = MediaTypes.pandasRecords): InferReply {
  return {
    status: Number(headers?.get(Headers.status) || 200),
    contentType: headers?.get(Headers.contentType) || fallbackType,
    body,
  };
}

/** A reply part as an envelope part. */
export function replyPart(r: InferReply): EnvelopePart {
  return { headers: replyHeaders(r), body: r.body };
}

/** The headers that mark a message as a batch envelope of `parts` parts. */
export function batchHeaders(parts: number): Record<string, string> {
  return { [Headers.batch]: String(parts) };
}

/** How many parts a batch message holds, or undefined when the message is a single part. */
export function batchSize(headers: HeaderSource | undefined): number | undefined {
  const n = headers?.get(Headers.batch);
  return n ? Number(n) : undefined;
}

/** The parts of a message, whether it is a batch envelope or a single request; throws on a broken envelope. */
export function requestParts(headers: HeaderSource | undefined, body: Uint8Array): EnvelopePart[] {
  const n = batchSize(headers);
  return n === undefined ? [requestPart(headers, body)] : decodeEnvelope(body, n);
}

/** The replies of a batch reply message (each part's own status and type). */
export function batchReplies(body: Uint8Array, parts: number, fallbackType = "application/octet-stream"): InferReply[] {
  return decodeEnvelope(body, parts).map((p) => readReply(recordHeaders(p.headers), p.body, fallbackType));
}

/** A plain header record as a HeaderSource. */
export function recordHeaders(record: Readonly<Record<string, string>>): HeaderSource {
  return { get: (name) => record[name] };
}
