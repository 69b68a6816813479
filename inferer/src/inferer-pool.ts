import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { serviceOf, type Service } from "@ferry/runtime";
import type { InfererOptions, InfererStats } from "./inferer.js";
import type { LogPublisherStats } from "./log-publisher.js";
import type { FromThread, ThreadData, ToThread } from "./inferer-thread.js";

/** How to start a pool of inferers on worker threads. */
export interface PoolOptions {
  /** Inferers, one per thread. Default: {@link defaultWorkers}. */
  workers?: number;
  /** Options of every inferer (plain data: they cross to the threads). */
  inferer: Omit<InfererOptions, "nc" | "logger">;
  /** pino level of the threads' logs. Default info. */
  logLevel?: string;
}

/** What the pool's inferers have done, summed. */
export type PoolStats = InfererStats & { log: LogPublisherStats };

/** A running pool. */
export interface InfererPool extends Service {
  readonly workers: number;
  stats(): Promise<PoolStats>;
}

/**
 * Inferers for this machine: one per four cores, at least one. Measured on 2 cores (bench/scale): for
 * light models a second thread made the inferer slower, as nats-server, the gateway and the clients need
 * the same cores, and each thread costs about 180 MB (its own engine, sessions and Arrow thread); for a
 * compute-bound model (40 ms a run) it served 1.46–1.66× the requests. Sites with heavy models set --workers.
 */
export function defaultWorkers(cores = availableParallelism()): number {
  return Math.max(1, Math.floor(cores / 4));
}

/**
 * Runs `workers` inferers, each on its own thread with its own NATS connection, in the usual queue
 * group. What costs an inferer CPU is mostly per message (moving bytes through nats.js, decoding,
 * encoding replies), which one JavaScript thread cannot spread over cores; separate threads can.
 */
export async function startPool(o: PoolOptions): Promise<InfererPool> {
  const workers = Math.max(1, o.workers ?? defaultWorkers());
  const threads = await Promise.all(Array.from({ length: workers }, (_, thread) => startThread({ options: o.inferer, logLevel: o.logLevel ?? "info", thread })));
  let nextId = 0;
  const ask = (w: Worker): Promise<PoolStats> => new Promise((resolve) => {
    const id = nextId++;
    const on = (m: FromThread): void => {
      if (m.type !== "stats" || m.id !== id) return;
      w.off("message", on);
      resolve(m.stats as PoolStats);
    };
    w.on("message", on);
    w.postMessage({ type: "stats", id } satisfies ToThread);
  });
  return serviceOf("inferer", async () => {
    await Promise.all(threads.map(stopThread));
  }, { workers, stats: async () => sum(await Promise.all(threads.map(ask))) });
}

function startThread(data: ThreadData): Promise<Worker> {
  const w = new Worker(new URL("./inferer-thread.js", import.meta.url), { workerData: data });
  return new Promise((resolve, reject) => {
    w.once("error", reject);
    const on = (m: FromThread): void => {
      if (m.type === "ready") resolve(w);
      else if (m.type === "failed") reject(new Error(`inferer thread ${data.thread} did not start: ${m.message}`));
      else return;
      w.off("message", on);
    };
    w.on("message", on);
  });
}

function stopThread(w: Worker): Promise<void> {
  return new Promise((resolve) => {
    w.once("exit", () => resolve());
    w.on("message", (m: FromThread) => { if (m.type === "stopped") void w.terminate(); });
    w.postMessage({ type: "stop" } satisfies ToThread);
  });
}

function sum(all: PoolStats[]): PoolStats {
  const total = (pick: (s: PoolStats) => object | undefined): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const s of all) for (const [k, v] of Object.entries(pick(s) ?? {})) if (typeof v === "number") out[k] = (out[k] ?? 0) + v;
    return out;
  };
  const durable = all.some((s) => s.durable) ? { durable: total((s) => s.durable) } : {};
  return { ...total((s) => s), log: total((s) => s.log), ...durable } as unknown as PoolStats;
}
