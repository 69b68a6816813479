import type { NatsConnection } from "@nats-io/transport-node";

/** A NATS connection's state, as its status events tell it. */
export interface ConnectionWatch {
  /** False from a disconnect until the next reconnect (and after close). */
  readonly connected: boolean;
  /** Reconnects since the watch began. */
  readonly reconnects: number;
}

/** What changed: the connection was lost, came back, or closed for good. */
export type ConnectionEvent = "disconnect" | "reconnect" | "close";

/**
 * Follows a connection's status events: nats.js has no "connected now" query. Starts connected, as a
 * connection is handed over once `connect()` resolved. The one watcher every service uses; `onEvent`
 * hears each change (a disconnect is reported once, however many reconnect attempts follow).
 */
export function watchConnection(nc: NatsConnection, onEvent?: (e: ConnectionEvent) => void): ConnectionWatch {
  const state = { connected: !nc.isClosed(), reconnects: 0 };
  const lost = (): void => {
    if (state.connected) onEvent?.("disconnect");
    state.connected = false;
  };
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect" || s.type === "reconnecting") lost();
      else if (s.type === "close") state.connected = false;
      else if (s.type === "reconnect") {
        state.connected = true;
        state.reconnects++;
        onEvent?.("reconnect");
      }
    }
  })().catch(() => undefined).finally(() => {
    // The iterator ends when the connection closes.
    state.connected = false;
    onEvent?.("close");
  });
  return state;
}
