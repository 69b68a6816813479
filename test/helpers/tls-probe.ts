import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect, type ConnectionOptions } from "node:tls";

/** What a TLS handshake came to: "ok" with the protocol, or the error's code/message. */
export type Handshake = { ok: true; protocol: string | null } | { ok: false; error: string };

function handshake(o: ConnectionOptions): Promise<Handshake> {
  return new Promise((resolve) => {
    const s = tlsConnect({ servername: "localhost", ...o });
    s.once("secureConnect", () => {
      resolve({ ok: true, protocol: s.getProtocol() });
      s.destroy();
    });
    s.once("error", (err: NodeJS.ErrnoException) => resolve({ ok: false, error: err.code ?? err.message }));
    s.setTimeout(5000, () => s.destroy(new Error("timeout")));
  });
}

/** A TLS handshake with the server at `port` on loopback, started at once (the Ops API, a handshake-first NATS port). */
export function tlsHandshake(port: number, o: ConnectionOptions = {}): Promise<Handshake> {
  return handshake({ host: "127.0.0.1", port, ...o });
}

/** The first line a NATS port says in clear (its INFO; "" when it says nothing within a second: TLS first), and the socket, still open. */
function afterInfo(port: number): Promise<{ socket: Socket; info: string }> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(port, "127.0.0.1");
    const timer = setTimeout(() => resolve({ socket, info: "" }), 1000);
    socket.once("data", (d: Buffer) => { clearTimeout(timer); resolve({ socket, info: d.toString("utf8") }); });
    socket.once("error", (err) => { clearTimeout(timer); reject(err); });
  });
}

/** A TLS handshake on a NATS port that says INFO in clear first (leaf nodes, a site's client port). */
export async function tlsAfterInfo(port: number, o: ConnectionOptions = {}): Promise<Handshake> {
  const { socket } = await afterInfo(port);
  return handshake({ socket, ...o });
}

/**
 * Speaks plain NATS to a port after its INFO (if it says one in clear): CONNECT, then PING. Resolves to what came back before the
 * server closed the connection (a server that requires TLS never answers PONG).
 */
export async function plainNats(port: number): Promise<{ info: string; reply: string }> {
  const { socket, info } = await afterInfo(port);
  return new Promise((resolve) => {
    let reply = "";
    socket.on("data", (d: Buffer) => { reply += d.toString("utf8"); });
    const done = (): void => { socket.destroy(); resolve({ info, reply }); };
    socket.once("close", done);
    socket.once("error", done);
    socket.setTimeout(3000, done);
    socket.write("CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPING\r\n");
  });
}
