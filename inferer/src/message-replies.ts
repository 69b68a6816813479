import type { Msg, NatsConnection } from "@nats-io/transport-node";
import { FerryError, batchHeaders, encodeEnvelope, replyHeaders, replyPart, requestParts, batchSize, type EnvelopePart } from "@ferry/contracts";
import { natsHeaders } from "@ferry/runtime";
import { errorReply, type PartReply } from "./infer-parts.js";
import type { PartsRunner } from "./parts-runner.js";
import type { Entry } from "./pipeline-set.js";

/** Room left in a NATS message for the headers and envelope framing around reply bodies, bytes. */
const ENVELOPE_SLACK = 4096;

/** Counts what an inferer answers. */
export interface AnswerCounters {
  messages: number;
  requests: number;
}

/** Stores the replies' log records before they are sent (`--log-ack sync`); rejects when it cannot. */
export type BeforeReply = (replies: readonly PartReply[]) => Promise<void>;

/** Answers one inference message; resolves to the replies sent (for logging), none when nothing was asked. */
export async function answerMessage(nc: NatsConnection, entry: Entry, msg: Msg, runner: PartsRunner, counters: AnswerCounters, before?: BeforeReply): Promise<PartReply[]> {
  if (!msg.reply) return [];
  let parts: EnvelopePart[];
  try {
    parts = requestParts(msg.headers, msg.data);
  } catch (err) {
    const broken = errorReply(new FerryError("bad_request", `broken batch envelope: ${(err as Error).message}`));
    reply(msg, broken);
    return [broken];
  }
  counters.messages++;
  counters.requests += parts.length;
  const runtime = entry.runtime;
  let replies = runtime
    ? await runner.run(runtime, parts, false)
    : parts.map(() => errorReply(new FerryError("pipeline_not_ready", `pipeline ${entry.name} is not serving: ${entry.detail ?? "still loading"}`)));
  if (before) {
    // No answer goes out as if logged when its records could not be stored.
    replies = await before(replies).then(() => replies, (err: unknown) => replies.map(() => errorReply(new FerryError("logs_unavailable", `the inference ran but its log record could not be stored: ${(err as Error).message}`))));
  }
  const max = nc.info?.max_payload ?? Number.POSITIVE_INFINITY;
  if (batchSize(msg.headers) === undefined) reply(msg, fitReply(replies[0]!, max));
  else msg.respond(encodeEnvelope(fitEnvelope(replies, max).map(replyPart)), { headers: natsHeaders(batchHeaders(replies.length)) });
  return replies;
}

function reply(msg: Msg, r: PartReply): void {
  msg.respond(r.body, { headers: natsHeaders(replyHeaders(r)) });
}

function tooLarge(size: number, max: number): PartReply {
  return errorReply(new FerryError("payload_too_large", `the reply (${size} bytes) exceeds the NATS max_payload of ${max} bytes; send fewer rows per request`));
}

function fitReply(r: PartReply, max: number): PartReply {
  return r.body.length + ENVELOPE_SLACK > max ? tooLarge(r.body.length, max) : r;
}

/** Replaces the largest replies with errors until the envelope fits in one NATS message. */
function fitEnvelope(replies: PartReply[], max: number): PartReply[] {
  let total = replies.reduce((n, r) => n + r.body.length + 200, ENVELOPE_SLACK);
  if (total <= max) return replies;
  const out = [...replies];
  const bySize = out.map((r, i) => [r.body.length, i] as const).sort((a, b) => b[0] - a[0]);
  for (const [size, i] of bySize) {
    if (total <= max) break;
    out[i] = tooLarge(size, max);
    total -= size - out[i].body.length;
  }
  return out;
}
