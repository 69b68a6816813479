// Helpers of bench/sync.ts that look at the hub from outside its processes: the bytes its leaf link
// carried (the kernel's TCP counters of the edge's socket, read with `ss`), and when its nats-server
// accepted TCP connections again after a restart.
import { execFile } from "node:child_process";
import { connect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";

/** Bytes of one leaf link as TCP carried them (NATS protocol and S2 framing included, TCP/IP headers not). */
export interface LinkBytes {
  /** Sent by the edge (the sourced log messages go this way). */
  edgeToHub: number;
  /** Sent by the hub (consumer requests, flow control, heartbeats' replies). */
  hubToEdge: number;
}

const run = promisify(execFile);

/** What the edge's server says of its leaf link (GET /leafz): the compression it runs with, and its round trip. */
export interface LinkMode {
  /** The mode in effect, as the server writes it (for s2_auto, with the level its round trip picked). */
  compression: string;
  rtt: string;
}

/** The edge's one leaf link as its monitoring endpoint describes it; "?" where it does not say. */
export async function leafLinkMode(monitorPort: number): Promise<LinkMode> {
  try {
    const res = await fetch(`http://127.0.0.1:${monitorPort}/leafz`);
    const leafz = await res.json() as { leafs?: { compression?: string; rtt?: string }[] };
    const leaf = leafz.leafs?.[0];
    return { compression: leaf?.compression ?? "?", rtt: leaf?.rtt ?? "?" };
  } catch (err) {
    return { compression: `? (${String(err)})`, rtt: "?" };
  }
}

/**
 * The TCP counters of the edge's end of its connection to the hub's leaf port (`ss -ti`, tcp_info's
 * bytes_sent and bytes_received since the connection opened). Why the kernel's and not the hub's
 * `leafz` in/out bytes: nats-server counts message payloads as it parses them, after decompression, so
 * those cannot show compression.
 * Throws unless exactly one connection goes to the port.
 */
export async function leafLinkBytes(leafPort: number): Promise<LinkBytes> {
  const { stdout } = await run("ss", ["-tinH", "state", "established", "dport", `= :${leafPort}`]);
  const sent = [...stdout.matchAll(/\bbytes_sent:(\d+)/g)].map((m) => Number(m[1]));
  const received = [...stdout.matchAll(/\bbytes_received:(\d+)/g)].map((m) => Number(m[1]));
  if (sent.length !== 1 || received.length !== 1) throw new Error(`expected one connection to leaf port ${leafPort}, ss shows:\n${stdout}`);
  return { edgeToHub: sent[0]!, hubToEdge: received[0]! };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => { socket.destroy(); resolve(true); });
    socket.once("error", () => { socket.destroy(); resolve(false); });
  });
}

/**
 * Polls `port` every 10 ms until a TCP connect succeeds; resolves to that moment (Date.now(), the
 * clock the hub stamps stored messages with): when the restarted server takes clients again.
 */
export async function acceptedAt(port: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await accepts(port)) return Date.now();
    await sleep(10);
  }
  return Number.NaN;
}
