// Variant of load.ts's measureHttp for bench/logs.ts: the same autocannon run, but it also returns the
// 2xx replies and the requests sent during the warm-up, so the stored log records can be checked
// against every request the server answered (requests in flight when autocannon stops are sent but
// never counted as replies: stored records lie between the two counts).
import autocannon from "autocannon";
import { cpuWindow, httpRunOf, type HttpLoad, type HttpRun } from "./load.js";

/** A measured run plus the request counts of its warm-up and of the whole run. */
export interface CountedRun {
  run: HttpRun;
  /** 2xx replies, warm-up plus measured window. */
  ok: number;
  /** Requests written to the server, warm-up plus measured window. */
  sent: number;
}

interface Fired {
  result: autocannon.Result;
  latenciesMs: number[];
  sent: number;
}

function fire(load: HttpLoad, seconds: number): Promise<Fired> {
  const latenciesMs: number[] = [];
  return new Promise((res, rej) => {
    const instance = autocannon({
      url: load.url, method: "POST", body: load.body, headers: load.headers,
      connections: load.connections, duration: seconds, timeout: 20,
    }, (err, result) => {
      if (err) rej(err);
      // autocannon 8 reports requests written in result.requests.sent (not in bench/autocannon.d.ts).
      else res({ result, latenciesMs, sent: Number((result as unknown as { requests?: { sent?: number } }).requests?.sent ?? Number.NaN) });
    });
    instance.on("response", (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (status >= 200 && status < 300) latenciesMs.push(ms);
    });
  });
}

/** Warms up, then measures (CPU sampled over the measured window only), counting every 2xx reply. */
export async function measureCounted(load: HttpLoad): Promise<CountedRun> {
  const warm = await fire(load, load.warmupSeconds);
  const procs = [{ label: "bench (autocannon)", pid: process.pid, node: true }, ...load.procs];
  const closeCpu = cpuWindow(procs);
  const { result, latenciesMs, sent } = await fire(load, load.seconds);
  const run = httpRunOf(load.connections, result, latenciesMs, await closeCpu());
  return { run, ok: warm.latenciesMs.length + latenciesMs.length, sent: warm.sent + sent };
}
