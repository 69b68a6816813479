import { Empty, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { Subjects, type DashboardStats, type TrafficSnapshot } from "@ferry/contracts";
import { mergeTraffic, type TrafficWindow } from "./traffic-window.js";

/** How long `/ui/stats` waits for more gateways after the last one answered, and at most, ms. */
const STALL_MS = 50;
const MAX_WAIT_MS = 300;

/** Answers `ferry.gateway.traffic` with this gateway's snapshot (closed with the connection's drain). */
export function answerTraffic(nc: NatsConnection, traffic: TrafficWindow): Subscription {
  return nc.subscribe(Subjects.gatewayTraffic, {
    callback: (err, msg) => {
      if (!err) msg.respond(JSON.stringify(traffic.snapshot()));
    },
  });
}

/**
 * The site's traffic: every gateway's snapshot (this one's own first, so it counts even when NATS is
 * down), gathered until no gateway has answered for a moment, then merged.
 */
export async function siteTraffic(nc: NatsConnection, traffic: TrafficWindow): Promise<Omit<DashboardStats, "nats">> {
  const snapshots: TrafficSnapshot[] = [traffic.snapshot()];
  try {
    const replies = await nc.requestMany(Subjects.gatewayTraffic, Empty, { strategy: "stall", stall: STALL_MS, maxWait: MAX_WAIT_MS });
    for await (const msg of replies) {
      try {
        snapshots.push(msg.json<TrafficSnapshot>());
      } catch {
        // not a snapshot: left out
      }
    }
  } catch {
    // NATS down or no answer: this gateway alone
  }
  return mergeTraffic(snapshots);
}
