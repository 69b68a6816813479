// Helpers of bench/devices.ts: device connections, each running a closed loop of NATS requests
// (request → await the reply → next) for a fixed time, tallying replies by Ferry-Status.
import { setTimeout as sleep } from "node:timers/promises";
import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import { Headers } from "@ferry/contracts";
import type { Workload } from "./devices-config.js";
import { summarize, type Latency } from "./stats.js";

/** What the devices got back in one closed-loop run. */
export interface LoopResult {
  /** From the first request to the last reply (the last requests end after the set time), s. */
  seconds: number;
  /** Replies with Ferry-Status 200. */
  ok: number;
  rps: number;
  /** Latency of the 200 replies, client-side. */
  latency: Latency;
  /** Replies by any other Ferry-Status (or "none"). */
  otherStatuses: Record<string, number>;
  /** Requests that got no reply (timeout, no responders, connection trouble). */
  errors: number;
  /** The first few problems, for the report. */
  problems: string[];
}

interface Tally {
  latenciesMs: number[];
  otherStatuses: Record<string, number>;
  errors: number;
  problems: string[];
}

/** Opens `n` separate connections, one per device. */
export async function connectDevices(url: string, n: number): Promise<NatsConnection[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => connect({ servers: url, name: `ferry-bench-device-${i}`, noAsyncTraces: true })));
}

function note(t: Tally, problem: string): void {
  if (t.problems.length < 5) t.problems.push(problem);
}

/** One device: requests back to back until `endAt` (performance.now() ms). */
async function device(nc: NatsConnection, w: Workload, endAt: number, timeoutMs: number, t: Tally): Promise<void> {
  const h = headers();
  h.set(Headers.contentType, w.contentType);
  while (performance.now() < endAt) {
    const t0 = performance.now();
    try {
      const reply = await nc.request(w.subject, w.body, { headers: h, timeout: timeoutMs });
      const status = reply.headers?.get(Headers.status) || "none";
      if (status === "200") {
        t.latenciesMs.push(performance.now() - t0);
      } else {
        t.otherStatuses[status] = (t.otherStatuses[status] ?? 0) + 1;
        note(t, `Ferry-Status ${status}: ${reply.string().slice(0, 200)}`);
      }
    } catch (err) {
      t.errors++;
      note(t, String(err));
      await sleep(10); // no responders fails at once: do not spin
    }
  }
}

/** Every device runs its closed loop on workload `w` for `seconds`. */
export async function closedLoop(devices: readonly NatsConnection[], w: Workload, seconds: number, timeoutMs: number): Promise<LoopResult> {
  const t: Tally = { latenciesMs: [], otherStatuses: {}, errors: 0, problems: [] };
  const start = performance.now();
  await Promise.all(devices.map((nc) => device(nc, w, start + seconds * 1000, timeoutMs, t)));
  const elapsed = (performance.now() - start) / 1000;
  const ok = t.latenciesMs.length;
  return { seconds: elapsed, ok, rps: ok / elapsed, latency: summarize(t.latenciesMs), otherStatuses: t.otherStatuses, errors: t.errors, problems: t.problems };
}
