import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { Subjects, type Heartbeat, type HeartbeatReply } from "@ferry/contracts";
import type { Logger } from "pino";
import type { EdgeRegistry } from "./edge-registry.js";

/**
 * Answers edges' heartbeats (`ferry.ops.heartbeat.<edge>`): each one from a joined edge is a contact
 * (its `last_seen`, which keeps its credentials from lapsing) and says which versions it serves.
 */
export function answerHeartbeats(nc: NatsConnection, registry: EdgeRegistry, log: Logger, onContact?: (edge: string) => Promise<void>): Subscription {
  return nc.subscribe(`${Subjects.heartbeatPrefix}*`, {
    callback: (err, msg) => {
      if (err) return;
      const edge = msg.subject.slice(Subjects.heartbeatPrefix.length);
      void contact(registry, edge, msg.data).then(
        (reply) => {
          msg.respond(JSON.stringify(reply));
          if (reply.ok) void onContact?.(edge).catch((e: unknown) => log.warn({ err: e, edge }, "edge log source not checked"));
        },
        (e: unknown) => {
          log.warn({ err: e, edge }, "heartbeat not recorded");
          msg.respond(JSON.stringify({ ok: true } satisfies HeartbeatReply));
        },
      );
    },
  });
}

async function contact(registry: EdgeRegistry, edge: string, data: Uint8Array): Promise<HeartbeatReply> {
  const known = await registry.get(edge);
  if (!known) return { ok: false, detail: `edge ${edge} is not registered (removed?): it needs a new bundle` };
  if (known.state !== "joined") return { ok: false, detail: `edge ${edge} is ${known.state}: it needs a new bundle` };
  let beat: Partial<Heartbeat> = {};
  try {
    beat = JSON.parse(new TextDecoder().decode(data)) as Partial<Heartbeat>;
  } catch {
    // a contact all the same
  }
  await registry.update(edge, (r) => ({ ...r, last_seen: Date.now(), ...(Array.isArray(beat.pipelines) ? { pipelines: beat.pipelines } : {}) }));
  return { ok: true };
}
