// The Ops link state line.
import type { Health } from "./gateway-api.js";

/** What the page says about the site's link to the Ops hub, and the state it tags the line with. */
export function describeLink(health: Health): { text: string; state: "standalone" | "up" | "down" | "unknown" | "revoked" | "lapsed" } {
  const l = health.link;
  if (!l.joined) return { text: "Ops link: not joined (standalone site)", state: "standalone" };
  const edge = l.edge ? ` as edge ${l.edge}` : "";
  if (health.nats !== "connected") return { text: `Ops link: unknown${edge} (the gateway's NATS connection is reconnecting)`, state: "unknown" };
  if (l.link === "up") {
    const last = l.last_contact ? `, last contact ${new Date(l.last_contact).toLocaleTimeString()}` : "";
    return { text: `Ops link: connected${edge}${last}`, state: "up" };
  }
  // The hub said it will never take this identity again: not an outage, so not "disconnected".
  if (l.link === "revoked") return { text: `Ops link: revoked${edge}: the hub refuses this edge; a new EDGE_BUNDLE is needed`, state: "revoked" };
  if (l.link === "lapsed") return { text: `Ops link: lapsed${edge}: no contact within the contact period; a new EDGE_BUNDLE is needed`, state: "lapsed" };
  return { text: `Ops link: disconnected${edge}${l.detail ? ` (${l.detail})` : ""}`, state: "down" };
}
