import { Parser, State } from "@nats-io/nats-core/internal";

/** What {@link reserveLargeMessages} did: applied (now or by an earlier call), or left alone (a parser it does not know). */
export type LargeMessages = "applied" | "unsupported";

let outcome: LargeMessages | undefined;

/**
 * A workaround for nats.js 3.4's parser, applied to every connection of this thread (the prototype is
 * shared). A message longer than one socket read (64 KB) is assembled in a buffer that starts at the
 * rest of that read and grows by doubling as the next reads arrive: a 605 KB image went through 64 K,
 * 192 K, 448 K and 960 K buffers, 1.6 MB allocated and 1.4 MB copied, and that churn of large
 * ArrayBuffers made V8 collect for external memory every few images. The MSG line has already given
 * the payload's size when that buffer is made, so reserving it then (DenoBuffer's public `grow`) leaves
 * one allocation and one copy of each byte. The size is bounded by the server's `max_payload`, and a
 * connection assembles one message at a time, so at most that much is reserved ahead of the bytes per
 * connection. Parsing is otherwise untouched: the original `parse` runs,
 * and this only looks at its state afterwards. A parser without the fields this reads (another
 * nats.js) is left alone. Upstream, sizing the buffer from the MSG line would make this unnecessary.
 */
export function reserveLargeMessages(): LargeMessages {
  if (outcome) return outcome;
  const proto = Parser.prototype as unknown as ParserShape;
  if (typeof proto.parse !== "function" || typeof State.MSG_PAYLOAD !== "number") return (outcome = "unsupported");
  const parse = proto.parse;
  proto.parse = function (this: ParserShape, buf: Uint8Array): void {
    const before = this.msgBuf;
    parse.call(this, buf);
    const assembling = this.msgBuf;
    if (assembling === undefined || assembling === before || this.state !== State.MSG_PAYLOAD) return;
    const missing = (this.ma?.size ?? 0) - assembling.length;
    if (missing > 0 && typeof assembling.grow === "function") assembling.grow(missing);
  };
  return (outcome = "applied");
}

/** The parts of nats-core's Parser this reads (not in its public types). */
interface ParserShape {
  parse(buf: Uint8Array): void;
  state: number;
  ma?: { size: number };
  msgBuf?: { length: number; grow?(n: number): void };
}
