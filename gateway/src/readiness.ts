import type { InfererStatus, LinkStatus } from "@ferry/contracts";
import { linkStatus, linkUnknown } from "./health.js";
import type { GatewayNats } from "./nats-plugin.js";
import { collectStatus } from "./status-client.js";

/** `GET /ready` body (200 when `ready`, else 503 with the reasons). */
export interface Readiness {
  status: "ready" | "not_ready";
  nats: "connected" | "reconnecting";
  /** The pipeline behind `POST /infer`: the site bucket's `current`, else what the inferers report; null when neither says. */
  current: string | null;
  /** Inferers that answered `ferry.status`. */
  inferers: number;
  /** Of those, the ones running the current pipeline. */
  serving: number;
  /** The site's link to the Ops hub (`standalone` when it never joined one); it does not decide readiness. */
  link: LinkStatus;
  /** Why the site is not ready; empty when it is. */
  reasons: string[];
}

/**
 * `GET /ready`: ready when NATS is connected and at least one inferer runs the site's current pipeline,
 * else the `reasons`. A hub link that is down does not make an edge unready: it serves locally whether
 * or not the hub is reachable.
 */
export async function readiness(nats: GatewayNats): Promise<Readiness> {
  return nats.connection.connected ? connectedReadiness(nats) : disconnected();
}

function disconnected(): Readiness {
  return {
    status: "not_ready", nats: "reconnecting", current: null, inferers: 0, serving: 0,
    link: linkUnknown,
    reasons: ["NATS is not connected (reconnecting)"],
  };
}

/** Asks the inferers, the site bucket and the link service at once. */
async function connectedReadiness(nats: GatewayNats): Promise<Readiness> {
  const [statuses, stored, link] = await Promise.all([collectStatus(nats.nc), nats.stores.currentPipeline(), linkStatus(nats.nc)]);
  const current = stored ?? statuses.find((s) => s.current)?.current ?? null;
  const running = current === null ? [] : statuses.filter((s) => s.pipelines.some((p) => p.id === current && p.status === "Running"));
  const reasons: string[] = [];
  if (statuses.length === 0) reasons.push("no inferer answers ferry.status");
  else if (current === null) reasons.push("no current pipeline is set (site bucket key current, or an inferer's --current)");
  else if (running.length === 0) reasons.push(whyNotRunning(current, statuses));
  return {
    status: reasons.length === 0 ? "ready" : "not_ready", nats: "connected", current,
    inferers: statuses.length, serving: running.length, link, reasons,
  };
}

function whyNotRunning(current: string, statuses: readonly InfererStatus[]): string {
  const failed = statuses.flatMap((s) => s.pipelines).find((p) => p.id === current && p.detail);
  return failed
    ? `the current pipeline ${current} is not running: ${failed.detail}`
    : `no inferer serves the current pipeline ${current}`;
}
