import { writeFileSync } from "node:fs";
import { pino } from "pino";
import { parseCommand, type Parsed } from "./command-line.js";
import type { StartOptions } from "./options.js";
import { commandUsage, usage } from "./usage.js";
import { optionsMarkdown } from "./options-markdown.js";
import { startSite, type Site } from "./start.js";
import { runGatewayPrimary } from "./gateway-cluster.js";
import { logsCommand } from "./logs-command.js";
import { deployCommand } from "./deploy-command.js";
import { natsPasswordCommand } from "./nats-password-command.js";

const demoRow = "[4.0,2.5,2900.0,5505.0,2.0,0.0,0.0,3.0,8.0,2900.0,0.0,47.6063,-122.02,2970.0,5251.0,12.0,0.0,0.0]";

/** What `ferry start` prints once up (stdout: the URLs to try). */
function upMessage(o: StartOptions, site: Site): string {
  const base = site.url ?? "";
  if (o.command === "start nats") {
    const cluster = o.clusterPort ? ` (cluster "ferry", routes on :${o.clusterPort}${o.routes.length ? ` to ${o.routes.join(", ")}` : ""})` : "";
    return `\nnats-server "${o.natsName}" is up: ${site.natsUrl}${cluster}${site.passwords ? "; users required (ferry nats-password ROLE)" : ""}\nCtrl-C stops it.\n`;
  }
  const ca = site.ca ? `TLS CA: ${site.ca.file}\nCA SHA-256 fingerprint: ${site.ca.sha256}\n` : "";
  const cacert = site.ca ? ` --cacert ${site.ca.file}` : "";
  if (o.command === "start ops") return `\nOps hub is up. API: ${base}  hub NATS: ${site.natsUrl}\n${ca}Try:\n  curl${cacert} ${base}/edges\nCtrl-C stops it.\n`;
  return [
    "",
    `Ferry is up.${base ? ` HTTP: ${base}` : ""}  NATS: ${site.natsUrl} (devices can connect here)`,
    ...(site.ca ? [`NATS TLS CA: ${site.ca.file} (SHA-256 ${site.ca.sha256}); devices: FERRY_NATS_CA=${site.ca.file}`] : []),
    ...(base ? [
      "Try:",
      `  curl ${base}/pipelines`,
      `  curl ${base}/models`,
      `  curl -X POST ${base}/infer -H 'Content-Type: application/json; format=pandas-records' --data '[{"tensor": ${demoRow}}]'`,
      `  curl -X POST ${base}/pipelines/edge-cv-demo -H 'Content-Type: application/vnd.apache.arrow.file' --data-binary @models/data/image_224x224.arrow`,
    ] : []),
    "Ctrl-C stops it.",
    "",
  ].join("\n");
}

/** Runs `ferry start`: until SIGINT or SIGTERM, which drain and stop it (so resolves to -1: keep running). */
async function start(o: StartOptions): Promise<number> {
  const log = pino({ level: o.logLevel });
  if (o.command === "start" && o.gateways > 1 && await runGatewayPrimary(o.gateways, log)) return 0;
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
  process.stdout.write(upMessage(o, site));
  return -1;
}

/** `ferry options-markdown [FILE]`: docs/options.md from the option table (stdout without FILE). */
function optionsMarkdownCommand(args: string[]): number {
  if (args[0]) writeFileSync(args[0], optionsMarkdown());
  else process.stdout.write(optionsMarkdown());
  return 0;
}

function run(parsed: Parsed): Promise<number> | number {
  switch (parsed.command) {
    case "help":
      process.stdout.write(parsed.topic ? commandUsage(parsed.topic) : usage());
      return 0;
    case "deploy": case "undeploy": case "current": return deployCommand(parsed.command, parsed.options);
    case "nats-password": return natsPasswordCommand(parsed.options);
    case "logs": return logsCommand(parsed.options);
    default: return start(parsed.options);
  }
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  // Not a user's command: the docs' generator, kept out of the option table and the help.
  if (argv[0] === "options-markdown") return optionsMarkdownCommand(argv.slice(1));
  let parsed: Parsed;
  try {
    parsed = parseCommand(argv, process.env);
  } catch (err) {
    process.stderr.write(`ferry: ${(err as Error).message}\n\nferry --help lists the commands and options.\n`);
    return 2;
  }
  return run(parsed);
}

main().then((code) => { if (code >= 0) process.exit(code); }, (err: unknown) => {
  process.stderr.write(`ferry: ${(err as Error).message}\n`);
  process.exit(1);
});
