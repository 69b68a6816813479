import { pino } from "pino";
import { parseStart, usage } from "./options.js";
import { startSite } from "./start.js";
import { runGatewayPrimary } from "./gateway-cluster.js";
import { logsCommand } from "./logs-command.js";
import { deployCommand } from "./deploy-command.js";
import { natsPasswordCommand } from "./nats-password-command.js";

const demoRow = "[4.0,2.5,2900.0,5505.0,2.0,0.0,0.0,3.0,8.0,2900.0,0.0,47.6063,-122.02,2970.0,5251.0,12.0,0.0,0.0]";

async function main(): Promise<number> {
  if (process.argv[2] === "logs") return logsCommand(process.argv.slice(3), process.env);
  let parsed;
  try {
    parsed = parseStart(process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`ferry: ${(err as Error).message}\n\n${usage}`);
    return 2;
  }
  if (!parsed || !parsed.command) {
    process.stdout.write(usage);
    return 0;
  }
  if (parsed.command === "deploy" || parsed.command === "undeploy" || parsed.command === "current") {
    return deployCommand(parsed.command, parsed.options);
  }
  if (parsed.command === "nats-password") return natsPasswordCommand(parsed.options);
  if (parsed.command !== "start") {
    process.stderr.write(`ferry: unknown command ${JSON.stringify(parsed.command)}\n\n${usage}`);
    return 2;
  }
  const o = parsed.options;
  const log = pino({ level: o.logLevel });
  if (o.gateways > 1 && await runGatewayPrimary(o.gateways, log)) return 0;
  const site = await startSite(o, log);
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "draining and stopping");
    void site.stop().then(() => process.exit(0), (err: unknown) => {
      log.error({ err }, "stop failed");
      process.exit(1);
    });
  };
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  const base = site.url ?? "";
  if (o.services.length === 1 && o.services[0] === "nats") {
    const cluster = o.clusterPort ? ` (cluster "ferry", routes on :${o.clusterPort}${o.routes.length ? ` to ${o.routes.join(", ")}` : ""})` : "";
    process.stdout.write(`\nnats-server "${o.natsName}" is up: ${site.natsUrl}${cluster}${site.passwords ? "; users required (ferry nats-password ROLE)" : ""}\nCtrl-C stops it.\n`);
    return -1;
  }
  if (o.services.includes("ops")) {
    process.stdout.write(`\nOps hub is up. API: ${base}  hub NATS: ${site.natsUrl}\nTry:\n  curl ${base}/edges\nCtrl-C stops it.\n`);
    return -1;
  }
  process.stdout.write([
    "",
    `Ferry is up.${base ? ` HTTP: ${base}` : ""}  NATS: ${site.natsUrl} (devices can connect here)`,
    ...(base ? [
      "Try:",
      `  curl ${base}/pipelines`,
      `  curl ${base}/models`,
      `  curl -X POST ${base}/infer -H 'Content-Type: application/json; format=pandas-records' --data '[{"tensor": ${demoRow}}]'`,
      `  curl -X POST ${base}/pipelines/edge-cv-demo -H 'Content-Type: application/vnd.apache.arrow.file' --data-binary @models/data/image_224x224.arrow`,
    ] : []),
    "Ctrl-C stops it.",
    "",
  ].join("\n"));
  return -1;
}

main().then((code) => { if (code >= 0) process.exit(code); }, (err: unknown) => {
  process.stderr.write(`ferry: ${(err as Error).message}\n`);
  process.exit(1);
});
