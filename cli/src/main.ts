import { writeFileSync } from "node:fs";
import { pino } from "pino";
import { parseCommand, type Parsed } from "./command-line.js";
import type { StartOptions } from "./options.js";
import { commandUsage, usage } from "./usage.js";
import { optionsMarkdown } from "./options-markdown.js";
import type { Site } from "./site.js";
import { startSite } from "./start.js";
import { runGatewayPrimary } from "./gateway-cluster.js";
import { logsCommand } from "./logs-command.js";
import { deployCommand } from "./deploy-command.js";
import { natsPasswordCommand } from "./nats-password-command.js";
import { deviceCommand } from "./device-command.js";
import { opsTokenCommand } from "./ops-token-command.js";
import { tlsInitCommand } from "./tls-init-command.js";
import { DefaultTokenTtlMs } from "@ferry/ops";
import { formatDuration } from "./units.js";

const demoRow = "[4.0,2.5,2900.0,5505.0,2.0,0.0,0.0,3.0,8.0,2900.0,0.0,47.6063,-122.02,2970.0,5251.0,12.0,0.0,0.0]";

/** What `ferry start` prints once up (stdout: the URLs to try). */
function upMessage(o: StartOptions, site: Site): string {
  const base = site.url ?? "";
  if (o.command === "start nats") {
    const cluster = o.clusterPort ? ` (cluster "ferry", routes on :${o.clusterPort}${o.routes.length ? ` to ${o.routes.join(", ")}` : ""})` : "";
    return `\nnats-server "${o.natsName}" is up: ${site.natsUrl}${cluster}${site.passwords ? "; users required (ferry nats-password ROLE)" : ""}\nCtrl-C stops it.\n`;
  }
  if (o.command === "start ops") return hubUpMessage(base, site);
  return [
    "",
    `Ferry is up.${base ? ` HTTP: ${base}` : ""}  NATS: ${site.natsUrl}${site.grpcPort !== undefined ? `  gRPC: ${grpcAddress(base, site.grpcPort)}` : ""}`,
    ...(site.passwords ? [`Devices log in to NATS as their own user (ferry device add NAME --data ${o.data} prints its password), or as the shared user "device" (ferry nats-password device --data ${o.data})`] : []),
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

/** host:port of the gRPC service, on the gateway's host. */
function grpcAddress(base: string, port: number): string {
  const host = base ? new URL(base).hostname : "localhost";
  return `${host}:${port}`;
}

/** How long stopping may take before Ferry exits anyway (a drain that waits for a server that is gone). */
const STOP_GRACE_MS = 4000;

/** What `ferry start ops` prints: at its first start, the admin token it made (shown here only, never logged). */
function hubUpMessage(base: string, site: Site): string {
  const token = site.opsAdminToken;
  return [
    "",
    `Ops hub is up. API: ${base}  hub NATS: ${site.natsUrl}`,
    ...(site.ca ? [`TLS CA: ${site.ca.file}`, `CA SHA-256 fingerprint: ${site.ca.sha256}`] : []),
    ...(token ? [
      "",
      "First start: this is the hub's admin token for the Ops API. It is shown only now (the hub keeps its",
      `sha256) and expires in ${formatDuration(DefaultTokenTtlMs)}: keep it in a secret store, and make tokens for people and CI with it.`,
      "",
      `  export FERRY_OPS_TOKEN=${token}`,
      "",
    ] : []),
    "Try:",
    `  curl${site.ca ? ` --cacert ${site.ca.file}` : ""} -H "Authorization: Bearer $FERRY_OPS_TOKEN" ${base}/edges`,
    "  ferry ops token create --role viewer --name dashboard",
    "Ctrl-C stops it.",
    "",
  ].join("\n");
}

/** Runs `ferry start`: until SIGINT or SIGTERM, which drain and stop it (so resolves to -1: keep running). */
async function start(o: StartOptions): Promise<number> {
  const log = pino({ level: o.logLevel });
  if (o.command === "start" && o.gateways > 1 && await runGatewayPrimary(o.gateways, log)) return 0;
  let stopping = false;
  const running: { site?: Site } = {};
  let started: () => void = () => undefined;
  const up = new Promise<void>((resolve) => { started = resolve; });
  const shutdown = (why: string, code: number): void => {
    if (stopping) return;
    stopping = true;
    log.info({ why }, "draining and stopping");
    const grace = setTimeout(() => {
      log.error({ graceMs: STOP_GRACE_MS }, "stopping took too long: exiting (records not yet acknowledged by NATS are lost)");
      process.exit(code || 1);
    }, STOP_GRACE_MS);
    // A signal during start-up stops the site once it is up (a half-started one stops itself on failure).
    void up.then(() => running.site?.stop()).then(() => process.exit(code), (err: unknown) => {
      log.error({ err }, "stop failed");
      process.exit(1);
    }).finally(() => clearTimeout(grace));
  };
  // Installed before starting: a shell may start Ferry with SIGINT ignored, and a Ctrl-C during
  // start-up must not be lost.
  process.on("SIGINT", () => shutdown("SIGINT", 0));
  process.on("SIGTERM", () => shutdown("SIGTERM", 0));
  const site = (running.site = await startSite(o, log, (err) => shutdown(`nats-server does not start: ${err.message}`, 1)));
  started();
  if (!stopping) process.stdout.write(upMessage(o, site));
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
    case "device add": case "device remove": case "device list": return deviceCommand(parsed.command, parsed.options);
    case "logs": return logsCommand(parsed.options);
    case "ops token create": case "ops token list": case "ops token revoke": return opsTokenCommand(parsed.command, parsed.options);
    case "tls init": return tlsInitCommand(parsed.options);
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
