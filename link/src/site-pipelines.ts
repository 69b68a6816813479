import { Empty, type NatsConnection } from "@nats-io/transport-node";
import { Subjects, type Heartbeat, type InfererStatus } from "@ferry/contracts";

/**
 * The pipelines the site's inferers serve now, one entry per pipeline (Running wins over Error),
 * gathered from `ferry.status` replies for at most `maxWaitMs`.
 */
export async function sitePipelines(nc: NatsConnection, maxWaitMs = 300): Promise<Heartbeat["pipelines"]> {
  const byName = new Map<string, Heartbeat["pipelines"][number]>();
  try {
    const replies = await nc.requestMany(Subjects.status, Empty, { strategy: "stall", stall: 75, maxWait: maxWaitMs });
    for await (const msg of replies) {
      let status: InfererStatus;
      try {
        status = msg.json<InfererStatus>();
      } catch {
        continue;
      }
      for (const p of status.pipelines ?? []) {
        const seen = byName.get(p.id);
        if (!seen || (seen.status !== "Running" && p.status === "Running")) {
          byName.set(p.id, { name: p.id, status: p.status, ...(p.version ? { version: p.version } : {}) });
        }
      }
    }
  } catch {
    // no inferer runs: the site serves nothing right now, which is worth reporting too
  }
  return [...byName.values()];
}
