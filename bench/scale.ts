// Ferry scale bench. Part 1: `ferry start inferer --workers N` for N = 1 and 2, alternated in rounds against
// one nats-server, loaded by 64 NATS devices (image classifier, house price), 16 devices (the compute-bound
// classifier, models/README.md) and over HTTP through a gateway child (house price, c32); req/s, the 2/1
// ratio (target >= 1.6x for the classifier), CPU and peak RSS of every process; 1 worker with 2 onnxruntime
// threads on the compute-bound classifier; plus the whole site in one process (--workers 1) over HTTP. Part 2: the
// embedded site (`ferry start`, its own nats-server) under steady HTTP load for 60 s, its RSS against the
// 400 MB target and its trend. Part 3 (off by default): the same as a soak. Default length about 4 minutes.
// Run: npm run bench:scale   (or: npx tsc -b && node bench/dist/scale.js [--soak-only])
// Knobs: SCALE_SECONDS (6), SCALE_WARMUP_SECONDS (1), SCALE_ROUNDS (2), SCALE_DEVICES (64),
//        SCALE_HTTP_CONNECTIONS (32), SCALE_STEADY_SECONDS (60), SCALE_STEADY_CONNECTIONS (16),
//        SCALE_IMAGE_INTERVAL_MS (200), SCALE_SOAK_SECONDS (0; 300 with --soak-only)
import { connect } from "@nats-io/transport-node";
import { paths } from "./helpers/config.js";
import { loadWorkloads } from "./helpers/devices-config.js";
import { connectDevices } from "./helpers/devices-load.js";
import { startBenchNats } from "./helpers/devices-site.js";
import { describeMachine, progress } from "./helpers/machine.js";
import { benchMain } from "./helpers/main.js";
import { Cleanup } from "./helpers/procs.js";
import { scaleSettings, soakOnly, targets } from "./helpers/scale-config.js";
import { renderScale, writeScaleReport, type ScaleReport } from "./helpers/scale-report.js";
import type { WorkersReport } from "./helpers/scale-report-workers.js";
import { provisionSite } from "./helpers/scale-site.js";
import { measureSoakWithKill, measureSteady } from "./helpers/scale-steady.js";
import { summarizeScaling, workerRatios } from "./helpers/scale-summary.js";
import { measureScaling, scaleWorkloads } from "./helpers/scale-workers.js";

/** Part 1 on its own nats-server, torn down before part 2 starts. */
async function workersPart(): Promise<WorkersReport> {
  const cleanup = new Cleanup();
  try {
    const nats = await startBenchNats(cleanup);
    const nc = await connect({ servers: nats.url, name: "ferry-bench-scale" });
    cleanup.defer(() => nc.close());
    await provisionSite(nc);
    progress(`nats-server ${nats.url}; connecting ${scaleSettings.devices} devices`);
    const devices = await connectDevices(nats.url, scaleSettings.devices);
    cleanup.defer(async () => {
      await Promise.all(devices.map((d) => d.close()));
    });
    const result = await measureScaling({ nats, nc, devices, workloads: scaleWorkloads(await loadWorkloads(), scaleSettings.devices) });
    const summary = summarizeScaling(result.runs);
    return { ...result, summary, ratios: workerRatios(summary) };
  } finally {
    await cleanup.run();
  }
}

async function run(): Promise<ScaleReport> {
  const unknown = process.argv.slice(2).filter((a) => a !== "--soak-only");
  if (unknown.length > 0) throw new Error(`unknown arguments ${unknown.join(" ")} (only --soak-only)`);
  const report: ScaleReport = {
    startedAt: new Date().toISOString(), machine: await describeMachine(), settings: { ...scaleSettings, soakOnly, targets },
  };
  if (!soakOnly) {
    report.workers = await workersPart();
    report.steady = await measureSteady("steady", scaleSettings.steadySeconds);
  }
  // `npm run soak`: the soak has a fault in the middle (SCALE_SOAK_KILL=0: without it, as part 3 of the bench).
  if (scaleSettings.soakSeconds > 0 && soakOnly && process.env.SCALE_SOAK_KILL !== "0") report.soakKill = await measureSoakWithKill(scaleSettings.soakSeconds);
  else if (scaleSettings.soakSeconds > 0) report.soak = await measureSteady("soak", scaleSettings.soakSeconds);
  return report;
}

// Ferry children stop first, while NATS is up for them to drain.
benchMain({ name: "scale", run, render: renderScale, write: (s) => writeScaleReport(paths.results, s), childrenFirst: true });
