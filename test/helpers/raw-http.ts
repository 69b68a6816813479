import { connect, type Socket } from "node:net";

/** A raw HTTP client connection whose bytes the test controls (to be slow on purpose). */
export interface RawClient {
  readonly socket: Socket;
  /** What the server sent back. */
  received(): string;
  /** Resolves when the server (or anyone) closed the connection. */
  readonly closed: Promise<void>;
  isClosed(): boolean;
}

/** Opens a connection to `url`'s host and port and writes `first` once connected. */
export function rawClient(url: string, first: string): Promise<RawClient> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    let data = "";
    let isClosed = false;
    socket.setEncoding("latin1");
    socket.on("data", (d: string) => { data += d; });
    socket.on("error", () => { /* a reset is a close too */ });
    const closed = new Promise<void>((r) => socket.once("close", () => { isClosed = true; r(); }));
    socket.once("connect", () => {
      socket.write(first, () => resolve({ socket, received: () => data, closed, isClosed: () => isClosed }));
    });
    socket.once("error", reject);
  });
}

/** The start of a POST whose body is `length` bytes long. */
export function postHead(path: string, length: number, type = "application/json; format=pandas-records"): string {
  return `POST ${path} HTTP/1.1\r\nHost: ferry\r\nContent-Type: ${type}\r\nContent-Length: ${length}\r\n\r\n`;
}

/** The status code and the JSON body of an HTTP/1.1 response in `text` (undefined when there is none). */
export function parseResponse(text: string): { status: number; json: unknown } | undefined {
  const m = /^HTTP\/1\.1 (\d{3})[^\r]*\r\n[\s\S]*?\r\n\r\n([\s\S]*)$/.exec(text);
  if (!m) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(m[2]!);
  } catch {
    json = undefined;
  }
  return { status: Number(m[1]), json };
}
