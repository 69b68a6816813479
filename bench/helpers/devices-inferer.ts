// Child process of bench/devices.ts: `ferry start ARGS` as cli/dist/main.js runs it (the CLI's own
// parseStart + startSite, same flags, same services), plus one subscription that answers the inferer's
// counters on `statsSubject`, so the bench can report session runs per request.
// Run: node bench/dist/helpers/devices-inferer.js start inferer --nats-url URL [ferry start flags]
import { connect } from "@nats-io/transport-node";
import { parseStart, startSite } from "@ferry/cli";
import type { Inferer } from "@ferry/inferer";
import { statsSubject } from "./devices-config.js";

async function main(): Promise<void> {
  const parsed = parseStart(process.argv.slice(2), process.env);
  const natsUrl = parsed?.options.natsUrl;
  if (parsed?.command !== "start" || !natsUrl) throw new Error("usage: devices-inferer.js start inferer --nats-url URL [ferry start flags]");
  const site = await startSite(parsed.options);
  const inferer = site.services.find((s) => s.name === "inferer") as Inferer | undefined;
  const nc = await connect({ servers: natsUrl, name: "ferry-bench-stats" });
  nc.subscribe(statsSubject, { callback: (err, msg) => { if (!err) msg.respond(JSON.stringify(inferer?.stats() ?? null)); } });
  let stopping = false;
  const shutdown = (): void => {
    if (stopping) return;
    stopping = true;
    void nc.close().then(() => site.stop()).then(() => process.exit(0), (err: unknown) => {
      process.stderr.write(`stop failed: ${String(err)}\n`);
      process.exit(1);
    });
  };
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
}

main().catch((err: unknown) => {
  process.stderr.write(`devices-inferer: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
