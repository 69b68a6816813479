import type { FastifyInstance } from "fastify";
import type { NatsConnection } from "@nats-io/transport-node";
import { Subjects, type LinkStatus } from "@ferry/contracts";

/** `GET /health` body. */
export interface Health {
  status: "ok";
  /** The gateway's NATS connection: `reconnecting` while the site's server is away. */
  nats: "connected" | "reconnecting";
  /** The site's link to the Ops hub, as its link service reports it. */
  link: LinkStatus;
}

/** A site that never joined a hub runs no link service. */
const standalone: LinkStatus = { joined: false, link: "standalone" };

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

/** Follows the connection's status events: nats.js has no "connected now" query. */
function connectionState(nc: NatsConnection): () => Health["nats"] {
  let state: Health["nats"] = "connected";
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect" || s.type === "reconnecting") state = "reconnecting";
      else if (s.type === "reconnect") state = "connected";
    }
  })();
  return () => state;
}

/** Registers `GET /health`: 200 while the gateway runs, with the state of NATS and of the hub link. */
export function registerHealth(app: FastifyInstance, nc: NatsConnection): void {
  const nats = connectionState(nc);
  app.get("/health", async (): Promise<Health> => {
    // While NATS is away the link service cannot answer either; do not wait for it.
    const link = nats() === "connected" ? await linkStatus(nc) : { ...standalone, detail: "unknown while NATS is reconnecting" };
    return { status: "ok", nats: nats(), link };
  });
}
