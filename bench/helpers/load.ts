import autocannon from "autocannon";
import { cpuTicks, machineBusyTicks, ticksPerSecond, type Proc } from "./procs.js";
import { msSince, summarize, type Latency } from "./stats.js";

/** Share of one core a process used over a measured window. */
export interface CpuShare {
  label: string;
  totalPct: number;
  /** Node processes only: the main thread, i.e. the event loop. */
  mainPct?: number;
}

/** One measured HTTP run. */
export interface HttpRun {
  connections: number;
  seconds: number;
  /** 2xx replies in the measured window. */
  requests: number;
  rps: number;
  latency: Latency;
  errors: number;
  non2xx: number;
  timeouts: number;
  cpu: CpuShare[];
}

export interface HttpLoad {
  url: string;
  body: string | Buffer;
  headers: Record<string, string>;
  connections: number;
  seconds: number;
  warmupSeconds: number;
  /** Processes to report CPU for; the bench itself (the load generator) is added. */
  procs: readonly Proc[];
}

export interface Cannonade {
  result: autocannon.Result;
  latenciesMs: number[];
}

/** One autocannon run that also keeps every 2xx latency at full resolution. */
function fire(load: HttpLoad, seconds: number): Promise<Cannonade> {
  const latenciesMs: number[] = [];
  return new Promise((res, rej) => {
    const instance = autocannon({
      url: load.url, method: "POST", body: load.body, headers: load.headers,
      connections: load.connections, duration: seconds, timeout: 20,
    }, (err, result) => {
      if (err) rej(err);
      else res({ result, latenciesMs });
    });
    instance.on("response", (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (status >= 200 && status < 300) latenciesMs.push(ms);
    });
  });
}

/**
 * Starts a CPU window over `procs`; the returned function closes it. It adds "other processes":
 * whole-machine busy time minus the listed processes, so a neighbour's load shows in the report.
 */
export function cpuWindow(procs: readonly Proc[]): () => Promise<CpuShare[]> {
  const start = process.hrtime.bigint();
  const before = procs.map((p) => cpuTicks(p.pid));
  const machineBefore = machineBusyTicks();
  return async () => {
    const seconds = msSince(start) / 1000;
    const hz = await ticksPerSecond();
    const pct = (ticks: number): number => Math.round((ticks / hz / seconds) * 1000) / 10;
    const shares = procs.map((p, i) => {
      const now = cpuTicks(p.pid);
      const share: CpuShare = { label: p.label, totalPct: pct(now.total - before[i].total) };
      if (p.node) share.mainPct = pct(now.main - before[i].main);
      return share;
    });
    const listed = shares.reduce((n, s) => n + s.totalPct, 0);
    const other = Math.max(0, pct(machineBusyTicks() - machineBefore) - listed);
    return [...shares, { label: "other processes", totalPct: Math.round(other * 10) / 10 }];
  };
}

/** Warms up (results discarded), then measures; CPU is sampled over the measured window only. */
export async function measureHttp(load: HttpLoad): Promise<HttpRun> {
  await fire(load, load.warmupSeconds);
  const procs = [{ label: "bench (autocannon)", pid: process.pid, node: true }, ...load.procs];
  const closeCpu = cpuWindow(procs);
  const { result, latenciesMs } = await fire(load, load.seconds);
  return httpRunOf(load.connections, result, latenciesMs, await closeCpu());
}

/** An HttpRun from one autocannon result and the latencies of its 2xx replies. */
export function httpRunOf(connections: number, result: Cannonade["result"], latenciesMs: number[], cpu: CpuShare[]): HttpRun {
  return {
    connections,
    seconds: result.duration,
    requests: latenciesMs.length,
    rps: latenciesMs.length / result.duration,
    latency: summarize(latenciesMs),
    errors: result.errors,
    non2xx: result.non2xx,
    timeouts: result.timeouts,
    cpu,
  };
}
