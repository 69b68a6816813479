import type { MsgHdrs } from "@nats-io/transport-node";
import { Headers, type EnvelopePart } from "@ferry/contracts";

const PART_HEADERS = [Headers.contentType, Headers.accept, Headers.splitKey, Headers.requestId] as const;

/** One request carried by a plain (not enveloped) NATS message: its body and the headers inference reads. */
export function messagePart(headers: MsgHdrs | undefined, body: Uint8Array): EnvelopePart {
  const h: Record<string, string> = {};
  for (const name of PART_HEADERS) {
    const value = headers?.get(name);
    if (value) h[name] = value;
  }
  return { headers: h, body };
}
