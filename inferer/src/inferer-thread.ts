import { parentPort, workerData } from "node:worker_threads";
import { pino } from "pino";
import { start, type InfererOptions } from "./inferer.js";

/** What the pool sends a thread: its options (plain data) and its log settings. */
export interface ThreadData {
  options: Omit<InfererOptions, "nc" | "logger">;
  logLevel: string;
  thread: number;
}

/** Messages between the pool and a thread. */
export type ToThread = { type: "stop" } | { type: "stats"; id: number };
export type FromThread =
  | { type: "ready"; id: string }
  | { type: "failed"; message: string }
  | { type: "stats"; id: number; stats: unknown }
  | { type: "stopped" };

const data = workerData as ThreadData;
const log = pino({ name: "inferer", level: data.logLevel }).child({ thread: data.thread });
const post = (m: FromThread): void => parentPort!.postMessage(m);

start({ ...data.options, logger: log }).then((inferer) => {
  post({ type: "ready", id: inferer.id });
  parentPort!.on("message", (m: ToThread) => {
    if (m.type === "stats") post({ type: "stats", id: m.id, stats: { ...inferer.stats(), log: inferer.logStats() } });
    else void inferer.stop().finally(() => post({ type: "stopped" }));
  });
}, (err: unknown) => post({ type: "failed", message: (err as Error).stack ?? String(err) }));
