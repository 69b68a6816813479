// Report of bench/scale.ts, parts 2 and 3: the embedded site's load figures and its memory over time
// against the issue's 400 MB target.
import { defaultWorkers } from "@ferry/inferer";
import { table } from "./report.js";
import { scaleLabels, scaleSettings, targets } from "./scale-config.js";
import type { SteadyResult } from "./scale-steady.js";

const mb = (x: number | undefined): string => (x !== undefined && Number.isFinite(x) ? x.toFixed(1) : "-");
const signed = (x: number): string => (Number.isFinite(x) ? `${x >= 0 ? "+" : ""}${x.toFixed(2)}` : "-");

function memoryTable(r: SteadyResult): string {
  const w = scaleSettings.trendWindowS;
  return table(["process", "start", `first ${w} s`, `last ${w} s`, "end", "peak (sampled)", "VmHWM", `MB/min after ${w} s`],
    r.memory.map((m) => [m.label, mb(m.startMB), mb(m.firstMB), mb(m.lastMB), mb(m.endMB), mb(m.peakMB), mb(m.hwmMB), signed(m.slopeMBPerMin)]));
}

function loadLines(r: SteadyResult): string[] {
  const h = r.http;
  return [
    `  house price: ${h.requests.toLocaleString("en-US")} 2xx in ${h.seconds} s (${Math.round(h.rps).toLocaleString("en-US")} req/s), p50 ${h.latency.p50Ms.toFixed(1)} ms,`
      + ` p99 ${h.latency.p99Ms.toFixed(1)} ms; errors ${h.errors}, non-2xx ${h.non2xx}, timeouts ${h.timeouts}`,
    `  images: ${r.images.ok} ok, ${r.images.failed} failed`,
    `  CPU, % of one core: ${h.cpu.map((c) => `${c.label} ${c.totalPct.toFixed(0)}%`).join(", ")}`,
  ];
}

function verdictLines(r: SteadyResult): string[] {
  const total = r.memory.find((m) => m.label === scaleLabels.siteTotal);
  if (!total) return [];
  const hwmSum = r.memory.reduce((n, m) => n + (m.hwmMB ?? 0), 0);
  const meets = total.peakMB < targets.siteMB;
  return [
    `  ${scaleLabels.siteTotal} (Ferry + its nats-server): peak ${mb(total.peakMB)} MB sampled, ${mb(hwmSum)} MB summing each VmHWM —`
      + ` ${meets ? "MEETS" : "does NOT meet"} the < ${targets.siteMB} MB target`,
    `  trend: last ${scaleSettings.trendWindowS} s ${signed(total.lastMB - total.firstMB)} MB vs the first; linear fit ${signed(total.slopeMBPerMin)} MB/min`,
    ...r.images.problems.map((p) => `  image failure: ${p}`),
  ];
}

/** The readable report of a steady run (part 2) or the soak (part 3). */
export function renderSteady(title: string, r: SteadyResult): string {
  return [
    `${title}: ferry start (its own nats-server, demo pipelines, default workers = ${defaultWorkers()}), house price over HTTP`,
    `c${r.connections} for ${r.warmupSeconds} s warm-up + ${r.seconds} s, an image request every ${scaleSettings.imageIntervalMs} ms alongside;`,
    `RSS, MB (10^6 bytes), sampled every ${scaleSettings.steadySampleMs} ms from the start of the load.`,
    ...loadLines(r),
    "",
    memoryTable(r),
    "",
    ...verdictLines(r),
  ].join("\n");
}
