// Report of bench/scale.ts: the whole readable report and the JSON file.
import { scaleSettings, targets } from "./scale-config.js";
import { renderSteady } from "./scale-report-steady.js";
import { renderWorkers, type WorkersReport } from "./scale-report-workers.js";
import type { RssFigures, SteadyResult } from "./scale-steady.js";
import { renderSoakKill, type SoakKill } from "./soak-kill.js";
import { writeReportFile } from "./report-file.js";

/** Everything one run of bench/scale.ts measured; parts it skipped are absent. */
export interface ScaleReport {
  startedAt: string;
  machine: Record<string, string | number | boolean>;
  settings: typeof scaleSettings & { soakOnly: boolean; targets: typeof targets };
  workers?: WorkersReport;
  steady?: SteadyResult;
  soak?: SteadyResult;
  /** The soak with a nats-server kill -9 at half time (`npm run soak`). */
  soakKill?: { kill: SoakKill; memory: RssFigures[] };
}

/** The human-readable report. */
export function renderScale(r: ScaleReport): string {
  const parts = [
    r.workers && renderWorkers(r.workers),
    r.steady && renderSteady("Part 2, embedded site at steady load", r.steady),
    r.soak && renderSteady("Part 3, soak", r.soak),
    r.soakKill && [renderSoakKill(r.soakKill.kill), ...r.soakKill.memory.map((m) => `  RSS ${m.label}: start ${m.startMB.toFixed(0)} MB, peak ${m.peakMB.toFixed(0)} MB, end ${m.endMB.toFixed(0)} MB, trend ${m.slopeMBPerMin.toFixed(1)} MB/min`)].join("\n"),
  ].filter((p): p is string => Boolean(p));
  return [
    `Ferry scale bench, ${r.startedAt}: ${Object.entries(r.machine).map(([k, v]) => `${k} ${String(v)}`).join(", ")}`,
    "other load = CPU (% of one core) that processes outside the bench used during the run; NOISY above 20%.",
    ...parts.flatMap((p) => ["", p]),
  ].join("\n");
}

/** Writes the report to bench/results/scale-<timestamp>.json; returns the path. */
export function writeScaleReport(dir: string, r: ScaleReport): Promise<string> {
  return writeReportFile(dir, "scale", r);
}
