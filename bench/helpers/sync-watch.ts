// Helpers of bench/sync.ts: the bench's own connection to the hub's nats-server (it reconnects by itself
// when the hub comes back on the same port) and the catch-up wait, polling FERRY_LOGS_ALL's state.
import { setTimeout as sleep } from "node:timers/promises";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { HubLogStream } from "@ferry/contracts";
import type { Ops } from "@ferry/ops";
import type { Jet } from "./logs-ferry.js";
import { progress } from "./machine.js";

/** FERRY_LOGS_ALL at one moment. */
export interface HubState {
  messages: number;
  /** What the hub says its edge source still lacks (messages). */
  lag: number;
}

/** A poll that saw the message count move, ms after the hub's start. */
export interface Sample {
  ms: number;
  messages: number;
}

/** A connection to the hub that outlives its restarts. */
export class HubWatch {
  readonly jet: Jet;

  private constructor(jet: Jet) {
    this.jet = jet;
  }

  /** Connects as Ops' own user; requests time out after a second while the hub is away. */
  static async open(ops: Ops): Promise<HubWatch> {
    const nc = await connect({
      servers: ops.natsUrl, user: ops.login.user, pass: ops.login.pass, tls: ops.natsTls, name: "ferry-bench-sync-watch",
      maxReconnectAttempts: -1, reconnectTimeWait: 50, reconnectJitter: 0, noAsyncTraces: true,
    });
    return new HubWatch({ nc, js: jetstream(nc, { timeout: 1000 }), jsm: await jetstreamManager(nc, { timeout: 1000 }) });
  }

  /** FERRY_LOGS_ALL's state, or undefined while the hub does not answer. */
  async state(): Promise<HubState | undefined> {
    try {
      const info = await this.jet.jsm.streams.info(HubLogStream);
      return { messages: info.state.messages, lag: info.sources?.[0]?.lag ?? Number.NaN };
    } catch {
      return undefined;
    }
  }

  /** When the hub stored message `seq` of FERRY_LOGS_ALL, by its own clock (ms since the epoch). */
  async storedAt(seq: number): Promise<number> {
    const m = await this.jet.jsm.streams.getMessage(HubLogStream, { seq });
    if (!m) throw new Error(`${HubLogStream} has no message ${seq}`);
    return m.time.getTime();
  }

  /** Closes the connection. */
  close(): Promise<void> {
    return this.jet.nc.close();
  }
}

/**
 * Polls until FERRY_LOGS_ALL holds `target` messages; resolves to the polls that saw the count move.
 * Throws when the count has not moved for `stallMs` (from `startedAt` on).
 */
export async function waitForHub(watch: HubWatch, target: number, startedAt: number, o: { pollMs: number; stallMs: number }): Promise<Sample[]> {
  const samples: Sample[] = [];
  let seen = -1;
  let movedAt = startedAt;
  let printedAt = startedAt;
  for (;;) {
    const s = await watch.state();
    const now = performance.now();
    if (s && s.messages !== seen) {
      [seen, movedAt] = [s.messages, now];
      samples.push({ ms: Math.round(now - startedAt), messages: s.messages });
    }
    if (s && s.messages >= target) return samples;
    if (now - movedAt > o.stallMs) throw new Error(`catch-up stalled: ${seen} of ${target} messages at the hub, no progress for ${Math.round(o.stallMs / 1000)} s`);
    if (now - printedAt > 2000) {
      printedAt = now;
      progress(`  catch-up ${((now - startedAt) / 1000).toFixed(1)} s: ${s ? `${s.messages.toLocaleString("en-US")} of ${target.toLocaleString("en-US")} messages at the hub, source lag ${s.lag}` : "hub not answering yet"}`);
    }
    await sleep(o.pollMs);
  }
}
