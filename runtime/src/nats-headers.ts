import { headers, type MsgHdrs } from "@nats-io/transport-node";

/** NATS headers from a plain record (the framing in @ferry/contracts speaks records, not nats.js types). */
export function natsHeaders(record: Readonly<Record<string, string>>): MsgHdrs {
  const h = headers();
  for (const [name, value] of Object.entries(record)) h.set(name, value);
  return h;
}
