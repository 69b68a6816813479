// `ferry [command] [args] [flags]`: which command, then its options (option-values.ts) and the checks that
// span several options.
import { parseArgs } from "node:util";
import { Commands, type Command } from "./option-spec.js";
import { flagConfig, readOptions, type FlagValues } from "./option-values.js";
import { optionTable } from "./option-table.js";
import type { DeployOptions, DeviceOptions, HubOptions, LogsOptions, NatsPasswordOptions, NatsServerOptions, OpsTokenOptions, SiteOptions, SiteService, StartOptions, TlsInitOptions } from "./options.js";

/** What the command line asks for. */
export type Parsed =
  | { command: "help"; topic: Command | undefined }
  | { command: "start"; options: SiteOptions }
  | { command: "start nats"; options: NatsServerOptions }
  | { command: "start ops"; options: HubOptions }
  | { command: "deploy" | "undeploy" | "current"; options: DeployOptions }
  | { command: "nats-password"; options: NatsPasswordOptions }
  | { command: "device add" | "device remove" | "device list"; options: DeviceOptions }
  | { command: "logs"; options: LogsOptions }
  | { command: OpsTokenCommand; options: OpsTokenOptions }
  | { command: "tls init"; options: TlsInitOptions };

type OpsTokenCommand = "ops token create" | "ops token list" | "ops token revoke";

/** Every flag of every command, to find the command's words before knowing which flags take a value. */
function allFlags(): ReturnType<typeof flagConfig> {
  return Object.assign({}, ...Commands.map(flagConfig)) as ReturnType<typeof flagConfig>;
}

/** The command the words name: `start` splits by its services (`ops` and `nats` alone take their own options). */
function commandOf(words: string[]): Command | undefined {
  const [first, ...rest] = words;
  if (first === undefined) return undefined;
  if (first === "start") {
    if (rest.includes("ops")) {
      if (rest.length > 1) throw new Error("ops runs alone: `ferry start ops` (the hub has its own nats-server)");
      return "start ops";
    }
    return rest.length === 1 && rest[0] === "nats" ? "start nats" : "start";
  }
  if (first === "ops") return opsCommandOf(rest);
  if (first === "device") {
    const command = `device ${rest[0] ?? ""}`;
    if (!(Commands as readonly string[]).includes(command)) throw new Error("the device commands are `ferry device add|remove|list`");
    return command as Command;
  }
  if (first === "tls") {
    if (rest[0] !== "init") throw new Error("the tls command is `ferry tls init --out DIR --hosts NAMES`");
    return "tls init";
  }
  if ((Commands as readonly string[]).includes(first) && !first.includes(" ")) return first as Command;
  throw new Error(`unknown command ${JSON.stringify(first)}`);
}

/** `ferry ops token create|list|revoke`: three words, then the command's arguments. */
function opsCommandOf(rest: string[]): Command {
  const command = `ops ${rest.slice(0, 2).join(" ")}`;
  if (!(Commands as readonly string[]).includes(command)) throw new Error("the ops commands are `ferry ops token create|list|revoke`");
  return command as Command;
}

/** How many of the positional words name the command (`start`'s others are its services). */
function commandWords(command: Command): number {
  return command.startsWith("start") ? 1 : command.split(" ").length;
}

/** parseArgs' "Unknown option" turned into which commands do take that flag. */
function unknownFlag(err: unknown, command: Command): Error {
  const flag = /'(--?[^' ]+)'/.exec((err as Error).message)?.[1];
  const name = flag?.replace(/^-+/, "");
  const takers = Object.values(optionTable).filter((o) => o.flag === name || o.short === name).flatMap((o) => o.commands);
  if (!flag || takers.length === 0) return err as Error;
  const others = [...new Set(takers)].map((c) => `\`ferry ${c}\``).join(", ");
  return new Error(`${flag} is not an option of \`ferry ${command}\` (only of ${others}): leave out ${flag}`);
}

/** Parses `ferry` arguments (flags first, then each option's environment variable, then its default). */
export function parseCommand(argv: string[], env: NodeJS.ProcessEnv): Parsed {
  const loose = parseArgs({ args: argv, allowPositionals: true, strict: false, options: allFlags() });
  let command: Command | undefined;
  try {
    command = commandOf(loose.positionals);
  } catch (err) {
    if (loose.values.help) return { command: "help", topic: undefined };
    throw err;
  }
  if (loose.values.help || command === undefined) return { command: "help", topic: command };
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: flagConfig(command) });
  } catch (err) {
    throw (err as { code?: string }).code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" ? unknownFlag(err, command) : err;
  }
  return withOptions(command, readOptions(command, parsed.values as FlagValues, env), parsed.positionals.slice(commandWords(command)));
}

/** Each command's options, with the checks that span several of them. */
function withOptions(command: Command, o: Record<string, unknown>, args: string[]): Parsed {
  switch (command) {
    case "start": return { command, options: siteOptions(o as Omit<SiteOptions, "command" | "services">, args) };
    case "start nats":
      checkCluster(o.clusterPort as number, o.routes as string[]);
      return { command, options: { ...(o as Omit<NatsServerOptions, "command" | "services">), command, services: ["nats"] } };
    case "start ops":
      checkOidc(o as Omit<HubOptions, "command" | "services">);
      return { command, options: { ...(o as Omit<HubOptions, "command" | "services">), command, services: ["ops"] } };
    case "deploy": case "undeploy": case "current":
      return { command, options: { ...(o as Omit<DeployOptions, "command" | "args">), command, args } };
    case "nats-password": return { command, options: { ...(o as Omit<NatsPasswordOptions, "args">), args } };
    case "device add": case "device remove": case "device list": return { command, options: { ...(o as Omit<DeviceOptions, "args">), args } };
    case "logs":
      if (args.length > 0) throw new Error(`\`ferry logs\` takes no arguments, got ${JSON.stringify(args.join(" "))}`);
      return { command, options: o as LogsOptions };
    case "ops token create": case "ops token list": case "ops token revoke":
      return { command, options: opsTokenOptions(command, o as Omit<OpsTokenOptions, "args">, args) };
    case "tls init":
      if (args.length > 0) throw new Error(`\`ferry tls init\` takes no arguments (hosts go in --hosts), got ${JSON.stringify(args.join(" "))}`);
      return { command, options: o as TlsInitOptions };
  }
}

/** `ferry ops token …`: a role to create, an id to revoke, nothing else. */
function opsTokenOptions(command: OpsTokenCommand, o: Omit<OpsTokenOptions, "args">, args: string[]): OpsTokenOptions {
  if (command === "ops token create" && !o.role) throw new Error("`ferry ops token create` needs --role admin|publisher|viewer");
  const wanted = command === "ops token revoke" ? 1 : 0;
  if (args.length !== wanted) throw new Error(`\`ferry ${command}\` takes ${wanted ? "the token's id (from `ferry ops token list`)" : "no arguments"}, got ${JSON.stringify(args.join(" "))}`);
  return { ...o, args };
}

/** OIDC takes all three of issuer, audience and keys, or none. */
function checkOidc(o: Pick<HubOptions, "oidcIssuer" | "oidcAudience" | "oidcJwks">): void {
  const given = [o.oidcIssuer, o.oidcAudience, o.oidcJwks].filter(Boolean).length;
  if (given > 0 && given < 3) throw new Error("OIDC needs all of --oidc-issuer, --oidc-audience and --oidc-jwks");
}

function checkCluster(clusterPort: number, routes: string[]): void {
  if (routes.length > 0 && clusterPort === 0) throw new Error("--routes needs --cluster-port (the route port of this server)");
  if (clusterPort > 0 && routes.length === 0) throw new Error("--cluster-port needs --routes (the other servers of the cluster; JetStream will not cluster alone)");
}

/** `ferry start [services]`: the services asked (all by default; link only with an EDGE_BUNDLE). */
function siteOptions(o: Omit<SiteOptions, "command" | "services">, words: string[]): SiteOptions {
  const all: SiteService[] = ["gateway", "inferer", "logger", "deployer", ...(o.bundle ? ["link" as const] : [])];
  const services = (words.length === 0 ? all : words) as SiteService[];
  for (const s of services.filter((x) => x !== "nats")) {
    if (s === "link" && !o.bundle) throw new Error("the link service needs an EDGE_BUNDLE (--bundle)");
    if (!all.includes(s)) throw new Error(`unknown service ${JSON.stringify(s)} (nats, ${all.join(", ")})`);
  }
  checkCluster(o.clusterPort, o.routes);
  if (o.gateways > 1 && (services.length !== 1 || services[0] !== "gateway" || !o.natsUrl)) {
    throw new Error("--gateways N runs gateway processes alone: `ferry start gateway --nats-url URL --gateways N`");
  }
  // With "nats" among the services the server is spawned here, whatever NATS_URL the environment has.
  return { ...o, command: "start", services, natsUrl: services.includes("nats") ? undefined : o.natsUrl, gateways: Math.max(1, o.gateways) };
}

/** The options type of a command of the command line. */
type ParsedOptions<C, P = Parsed> = P extends { command: infer K; options: infer O } ? (C extends K ? O : never) : never;

/** The options of one command; throws when the arguments name another (or ask for help). */
export function parseAs<C extends Command>(command: C, argv: string[], env: NodeJS.ProcessEnv): ParsedOptions<C> {
  const parsed = parseCommand(argv, env);
  if (parsed.command !== command || !("options" in parsed)) throw new Error(`expected \`ferry ${command}\` arguments, got ${JSON.stringify(argv)}`);
  return parsed.options as never;
}

/** Parses `ferry start …` arguments; undefined for --help. Throws for another command. */
export function parseStart(argv: string[], env: NodeJS.ProcessEnv): { command: "start"; options: StartOptions } | undefined {
  const parsed = parseCommand(argv, env);
  if (parsed.command === "help") return undefined;
  if (parsed.command !== "start" && parsed.command !== "start nats" && parsed.command !== "start ops") {
    throw new Error(`parseStart reads \`ferry start\` arguments, not \`ferry ${parsed.command}\``);
  }
  return { command: "start", options: parsed.options };
}
