// Each command's options type, derived from the option table (the parsers that hand them out live in command-line.ts).
import type { OptionsFrom, Command } from "./option-spec.js";
import type { optionTable } from "./option-table.js";

/** The options `command` reads (flags and environment), typed from the option table. */
export type OptionsOf<C extends Command> = OptionsFrom<typeof optionTable, C>;

/** What `ferry start` can run in one process ("nats": spawn the server even when NATS_URL is set). */
export type SiteService = "nats" | "gateway" | "inferer" | "logger" | "deployer" | "link";

/** `ferry start [services]`: a site, or some of its services. */
export interface SiteOptions extends OptionsOf<"start"> {
  command: "start";
  services: SiteService[];
  /** Between join attempts while the hub is unreachable, ms (no flag: tests shorten it). Default 30 000. */
  joinRetryMs?: number;
}

/** `ferry start nats`: only a nats-server, e.g. one server of a cluster. */
export interface NatsServerOptions extends OptionsOf<"start nats"> {
  command: "start nats";
  services: ["nats"];
  /** Always undefined: the server is spawned here (there so that any start's `natsUrl` can be read). */
  natsUrl?: undefined;
}

/** `ferry start ops`: the Ops hub. */
export interface HubOptions extends OptionsOf<"start ops"> {
  command: "start ops";
  services: ["ops"];
  /** Always undefined: the hub spawns its own server (there so that any start's `natsUrl` can be read). */
  natsUrl?: undefined;
}

/** Any `ferry start`. */
export type StartOptions = SiteOptions | NatsServerOptions | HubOptions;

/** `ferry deploy MANIFEST`, `ferry undeploy PIPELINE`, `ferry current PIPELINE`. */
export interface DeployOptions extends OptionsOf<"undeploy"> {
  command: "deploy" | "undeploy" | "current";
  /** `ferry deploy --set-current` only. */
  setCurrent?: boolean;
  /** The words after the command (the manifest, or the pipeline). */
  args: string[];
}

/** `ferry nats-password ROLE`. */
export interface NatsPasswordOptions extends OptionsOf<"nats-password"> {
  args: string[];
}

/** `ferry device add|remove|list [NAME]`. */
export interface DeviceOptions extends OptionsOf<"device list"> {
  args: string[];
}

/** `ferry ops token create|list|revoke` (create's options are there only for create). */
export interface OpsTokenOptions extends OptionsOf<"ops token list"> {
  role?: "admin" | "publisher" | "viewer";
  tokenName?: string;
  ttlMs?: number;
  /** `revoke`: the token's id. */
  args: string[];
}

/** `ferry tls init`. */
export type TlsInitOptions = OptionsOf<"tls init">;

/** `ferry logs`. */
export type LogsOptions = OptionsOf<"logs">;
