import type { NatsConnection } from "@nats-io/transport-node";
import { Subjects, type LinkStatus } from "@ferry/contracts";

/** `GET /health` body. */
export interface Health {
  /** `ok` (200) while the gateway reaches NATS; `unavailable` (503) while it does not: the site cannot serve then. */
  status: "ok" | "unavailable";
  /** The gateway's NATS connection: `reconnecting` while the site's server is away. */
  nats: "connected" | "reconnecting";
  /** The site's link to the Ops hub, as its link service reports it. */
  link: LinkStatus;
}

/** A site that never joined a hub runs no link service. */
const standalone: LinkStatus = { joined: false, link: "standalone" };

/** The link as reported while NATS is away: the link service cannot answer either, so nobody is asked. */
export const linkUnknown: LinkStatus = { ...standalone, detail: "unknown while NATS is reconnecting" };

/** How long `/health` waits for the link service, ms. */
export const LINK_STATUS_TIMEOUT_MS = 500;

/** Asks the site's link service for the state of its link to the Ops hub. */
export async function linkStatus(nc: NatsConnection, timeoutMs = LINK_STATUS_TIMEOUT_MS): Promise<LinkStatus> {
  try {
    const msg = await nc.request(Subjects.linkStatus, undefined, { timeout: timeoutMs });
    return msg.json<LinkStatus>();
  } catch {
    // No link service answers (never joined, or not running): the site stands alone.
    return standalone;
  }
}

/** `GET /health`: whether the site can serve (the gateway reaches NATS); the state of NATS and of the hub link. */
export async function health(nc: NatsConnection, connected: boolean): Promise<Health> {
  return connected ? { status: "ok", nats: "connected", link: await linkStatus(nc) } : { status: "unavailable", nats: "reconnecting", link: linkUnknown };
}
