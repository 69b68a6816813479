// Ferry devices bench. Part 1: 64 device connections to one nats-server, each a closed loop of
// single-row NATS requests (image classifier with the 224×224 Arrow file, and house price), against one
// inferer child with batching off, on (2 ms window) and on (window 0), alternated in rounds; median req/s,
// p50/p99 and runs per request, and the on/off ratio. Part 2: durable submit → result throughput of
// single-row house-price requests with an inferer running, and as a backlog drained by a new inferer,
// against the sync throughput of part 1; then both phases again on fresh nats-servers with jetstream
// sync_interval always (Ferry's default) and 2m (nats-server's), alternated in DEVICES_ROUNDS rounds.
// Default length about 4 minutes.
// Run: npm run bench:devices   (or: npx tsc -b && node bench/dist/devices.js)
// Knobs: DEVICES_SECONDS (8), DEVICES_ROUNDS (2), DEVICES_WARMUP_SECONDS (1), DEVICES_CONNECTIONS (64),
//        DEVICES_DURABLE_REQUESTS (5000), DEVICES_PUBLISHES_IN_FLIGHT (256), DEVICES_PARTS (all, or durable:
//        only the durable phases by sync interval)
import { connect } from "@nats-io/transport-node";
import { paths } from "./helpers/config.js";
import { batchModes, devicesSettings, loadWorkloads } from "./helpers/devices-config.js";
import { durableBacklog, durableLive } from "./helpers/devices-durable.js";
import { durableBySync } from "./helpers/devices-durable-sync.js";
import { connectDevices } from "./helpers/devices-load.js";
import { renderDevices, writeDevicesSummary, type DevicesSummary } from "./helpers/devices-report.js";
import { startBenchNats } from "./helpers/devices-site.js";
import { measureSync, summarizeSync } from "./helpers/devices-sync.js";
import { describeMachine, progress } from "./helpers/machine.js";
import { benchMain } from "./helpers/main.js";
import { Cleanup } from "./helpers/procs.js";

/** Part 1, and part 2 against its house-price rate, on one nats-server (sync always). */
async function syncAndDurable(cleanup: Cleanup): Promise<Pick<DevicesSummary, "sync" | "durable">> {
  const nats = await startBenchNats(cleanup);
  const nc = await connect({ servers: nats.url, name: "ferry-bench-devices" });
  cleanup.defer(() => nc.close());
  progress(`nats-server ${nats.url}; connecting ${devicesSettings.devices} devices`);
  const devices = await connectDevices(nats.url, devicesSettings.devices);
  cleanup.defer(async () => {
    await Promise.all(devices.map((d) => d.close()));
  });
  const runs = await measureSync({ nats, nc, devices, workloads: await loadWorkloads() });
  const summary = summarizeSync(runs);
  const live = await durableLive({ nats, nc });
  const backlog = await durableBacklog({ nats, nc });
  const syncRps = summary.find((s) => s.workload === "house price" && s.mode === batchModes[0]!.label)?.rps ?? Number.NaN;
  return {
    sync: { runs, summary },
    durable: {
      live, backlog, syncRps,
      ratio: { live: live.resultsPerS / syncRps, backlog: backlog.resultsPerS / syncRps, backlogFlowing: backlog.flowingPerS / syncRps },
    },
  };
}

function partsOf(raw: string): "all" | "durable" {
  if (raw === "all" || raw === "durable") return raw;
  throw new Error(`DEVICES_PARTS must be all or durable, got ${JSON.stringify(raw)}`);
}

async function run(cleanup: Cleanup): Promise<DevicesSummary> {
  const startedAt = new Date().toISOString();
  const machine = await describeMachine();
  const parts = partsOf(process.env.DEVICES_PARTS || "all");
  const measured = parts === "all" ? await syncAndDurable(cleanup) : {};
  const durableSync = await durableBySync();
  return { startedAt, machine, settings: { ...devicesSettings, modes: batchModes.map((m) => m.label) }, ...measured, durableSync };
}

// Inferers stop first, while NATS is up for them to drain.
benchMain({ name: "devices", run, render: renderDevices, write: (s) => writeDevicesSummary(paths.results, s), childrenFirst: true });
