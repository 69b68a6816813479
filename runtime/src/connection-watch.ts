import type { NatsConnection } from "@nats-io/transport-node";

/** A NATS connection's state, as its status events tell it. */
export interface ConnectionWatch {
  /** False from a disconnect until the next reconnect (and after close). */
  readonly connected: boolean;
  /** Reconnects since the watch began. */
  readonly reconnects: number;
}

/**
 * Follows a connection's status events: nats.js has no "connected now" query. Starts connected, as a
 * connection is handed over once `connect()` resolved.
 */
export function watchConnection(nc: NatsConnection): ConnectionWatch {
  const state = { connected: !nc.isClosed(), reconnects: 0 };
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect" || s.type === "reconnecting" || s.type === "close") state.connected = false;
      else if (s.type === "reconnect") {
        state.connected = true;
        state.reconnects++;
      }
    }
    // The iterator ends when the connection closes.
    state.connected = false;
  })();
  return state;
}
