// The soak's fault: `kill -9` of the embedded site's nats-server halfway through (Ferry supervises it
// and starts it again). What it measures: requests that failed, the outage (kill → first answered
// request after it), p99 of the answers outside the outage, and log records lost (answered requests
// without a stored record; with `--log-ack sync`, the default, the target is 0).
import autocannon from "autocannon";
import { countViaNats, withJet } from "./logs-ferry.js";
import type { FerryChild } from "./ferry-ready.js";
import { houseBody, houseHeaders, pipelines } from "./config.js";
import { progress } from "./machine.js";

/** What the soak with a kill measured. */
export interface SoakKill {
  seconds: number;
  connections: number;
  /** Seconds after the start when the server was killed. */
  killedAtS: number;
  /** From the kill to the first 2xx answered after it, s. */
  outageS: number;
  answered: number;
  failed: number;
  /** Failed requests by status (0: no HTTP answer). */
  failedByStatus: Record<string, number>;
  p99OutsideMs: number;
  p50OutsideMs: number;
  /** Log records stored at the end, and how many answered requests have none (stored beyond answered are requests in flight at the stop). */
  stored: number;
  lost: number;
  natsPids: { before: number | undefined; after: number | undefined };
}

interface Answer { at: number; status: number; ms: number }

function quantile(sorted: number[], q: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : Number.NaN;
}

/** Loads `site` for `seconds` and kills its nats-server at half time. */
export async function soakWithKill(site: FerryChild, seconds: number, connections: number, natsPid: () => Promise<number | undefined>): Promise<SoakKill> {
  const answers: Answer[] = [];
  const t0 = Date.now();
  let instance: autocannon.Instance | undefined;
  const done = new Promise<autocannon.Result>((res, rej) => {
    instance = autocannon({ url: `${site.url}/pipelines/${pipelines.house}`, method: "POST", body: houseBody, headers: houseHeaders, connections, duration: seconds, timeout: 20 },
      (err, result) => (err ? rej(err) : res(result)));
  });
  instance!.on("response", (_c: unknown, status: number, _b: number, ms: number) => answers.push({ at: Date.now(), status, ms }));
  const before = await natsPid();
  await new Promise((r) => setTimeout(r, (seconds * 1000) / 2));
  const killedAt = Date.now();
  progress(`soak: kill -9 of the nats-server (pid ${before}) at ${((killedAt - t0) / 1000).toFixed(1)} s`);
  if (before !== undefined) process.kill(before, "SIGKILL");
  const result = await done;
  const after = await natsPid();
  return summarize({ answers, result, t0, killedAt, seconds, connections, stored: await storedRecords(site.natsUrl), pids: { before, after } });
}

async function storedRecords(natsUrl: string): Promise<number> {
  return (await withJet(natsUrl, (jet) => countViaNats(jet))).records;
}

function summarize(o: { answers: Answer[]; result: autocannon.Result; t0: number; killedAt: number; seconds: number; connections: number; stored: number; pids: SoakKill["natsPids"] }): SoakKill {
  const ok = o.answers.filter((a) => a.status >= 200 && a.status < 300);
  const back = ok.find((a) => a.at > o.killedAt)?.at ?? Number.NaN;
  // Outside the outage: answers before the kill, and those a second after service came back.
  const outside = ok.filter((a) => a.at < o.killedAt || a.at > back + 1000).map((a) => a.ms).sort((a, b) => a - b);
  const failedByStatus: Record<string, number> = {};
  for (const a of o.answers) if (a.status < 200 || a.status >= 300) failedByStatus[a.status] = (failedByStatus[a.status] ?? 0) + 1;
  if (o.result.errors > 0) failedByStatus["0"] = o.result.errors;
  const failed = Object.values(failedByStatus).reduce((n, x) => n + x, 0);
  return {
    seconds: o.seconds, connections: o.connections, killedAtS: (o.killedAt - o.t0) / 1000, outageS: (back - o.killedAt) / 1000,
    answered: ok.length, failed, failedByStatus, p99OutsideMs: quantile(outside, 0.99), p50OutsideMs: quantile(outside, 0.5),
    stored: o.stored, lost: Math.max(0, ok.length - o.stored), natsPids: o.pids,
  };
}

/** The soak's fault part of the report. */
export function renderSoakKill(s: SoakKill): string {
  return [
    `Soak with a fault: house price, ${s.connections} connections, ${s.seconds} s; kill -9 of the nats-server at ${s.killedAtS.toFixed(1)} s (pid ${s.natsPids.before} → ${s.natsPids.after})`,
    `  outage (kill → first answer after it): ${s.outageS.toFixed(2)} s; answered ${s.answered}; failed ${s.failed} ${JSON.stringify(s.failedByStatus)}`,
    `  outside the outage: p50 ${s.p50OutsideMs.toFixed(1)} ms, p99 ${s.p99OutsideMs.toFixed(1)} ms`,
    `  log records stored ${s.stored}; answered without a record: ${s.lost} (target 0; stored beyond answered = requests in flight at the stop)`,
  ].join("\n");
}
