// `ferry --help` and `ferry COMMAND --help`, written from the option table.
import type { AnyOption, Command } from "./option-spec.js";
import { optionsOf } from "./option-values.js";
import { defaultText, flagText } from "./option-format.js";

/** Each command's synopsis and what it does (the general help lists them in this order). */
const commandHelp: Record<Command, { synopsis: string; about: string }> = {
  start: {
    synopsis: "ferry start [gateway] [inferer] [logger] [deployer] [link] [nats]",
    about: "start services (default: all, in one process; link only with an EDGE_BUNDLE; nats: spawn the server even with NATS_URL)",
  },
  "start nats": {
    synopsis: "ferry start nats [--cluster-port N --routes URLS]",
    about: "only a nats-server (with JetStream): one server of a cluster, users from FERRY_NATS_SECRET (compose.yaml)",
  },
  "start ops": { synopsis: "ferry start ops", about: "start an Ops hub: edges, bundles, publishing, every edge's logs (its own nats-server, domain \"hub\")" },
  deploy: { synopsis: "ferry deploy MANIFEST [--set-current]", about: "publish a pipeline version (models to the object store, manifest to KV); inferers swap it in while serving" },
  undeploy: { synopsis: "ferry undeploy PIPELINE", about: "stop serving a pipeline" },
  current: { synopsis: "ferry current PIPELINE", about: "make PIPELINE the one behind POST /infer" },
  "nats-password": {
    synopsis: "ferry nats-password ROLE",
    about: "a NATS role's password (admin, gateway, inferer, logger, deployer, link, device): from FERRY_NATS_SECRET, else from <data>/nats/users.json",
  },
  "device add": { synopsis: "ferry device add NAME", about: "add a device user to this site's NATS server and print its password, once (only its bcrypt hash is kept); a running site picks it up" },
  "device remove": { synopsis: "ferry device remove NAME", about: "remove a device user: the running site refuses it from then on" },
  "device list": { synopsis: "ferry device list", about: "list the site's device users (name, when added; never a password or hash)" },
  logs: { synopsis: "ferry logs [--out FILE] …", about: "print or export a site's inference logs (through its HTTP API)" },
  "ops token create": {
    synopsis: "ferry ops token create --role ROLE [--name NAME] [--ttl D]",
    about: "make an Ops API token (admin, publisher or viewer) and print it, once; needs an admin token in FERRY_OPS_TOKEN (docs/ops-hub.md)",
  },
  "ops token list": { synopsis: "ferry ops token list", about: "list the Ops API tokens: id, role, name, created, expires (never a token or its hash)" },
  "ops token revoke": { synopsis: "ferry ops token revoke ID", about: "revoke an Ops API token at once" },
  "tls init": {
    synopsis: "ferry tls init --out DIR --hosts NAMES [--ca-dir DIR]",
    about: "make a CA and a server certificate for NATS servers and their cluster routes (compose.yaml's certs service); keeps an existing CA; prints the CA's SHA-256",
  },
};

const width = 100;

/** `text` in lines of at most `width` characters, each indented by `indent`. */
function wrap(text: string, indent: string): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, indent + line];
}

/** One option: flag, environment variable and default on the first line (in columns), its meaning below. */
function optionLines(o: AnyOption): string[] {
  // Long flags line up whether or not there is a one-letter alias.
  const flag = (o.flag ? (o.short ? "" : "    ") + flagText(o) : "(environment only)").padEnd(24);
  const head = `  ${flag} ${(o.env ?? "").padEnd(24)} default: ${defaultText(o)}`;
  return [head, ...wrap(o.help, "        ")];
}

/** The options `command` takes, minus those in `except` (already listed). */
function optionList(command: Command, except: readonly string[] = []): string[] {
  return optionsOf(command).filter(([k]) => !except.includes(k)).flatMap(([, o]) => optionLines(o));
}

/** The flags of `command` among `keys`, for "also reads …". */
function shared(command: Command, keys: readonly string[]): string {
  return optionsOf(command).filter(([k, o]) => keys.includes(k) && o.flag).map(([, o]) => `--${o.flag}`).join(", ");
}

/** `ferry --help`: the commands, then `ferry start`'s options and what `ferry start ops` adds. */
export function usage(): string {
  const commands = Object.values(commandHelp).flatMap((c) => [`  ${c.synopsis}`, ...wrap(c.about, "        ")]);
  const startKeys = optionsOf("start").map(([k]) => k);
  return [
    "ferry: Wallaroo-compatible edge inference over NATS",
    "",
    "Usage:",
    ...commands,
    "  ferry [COMMAND] --help",
    "",
    "With no NATS_URL, `ferry start` spawns a local nats-server (JetStream on, store under --data).",
    "With an EDGE_BUNDLE from the Ops hub, the site joins the hub once (credentials kept in <data>/edge),",
    "links its nats-server to the hub and follows the pipeline published there (no demo manifests).",
    "",
    ...wrap("Options of ferry start (flag, environment variable, default; `ferry COMMAND --help` lists another command's):", ""),
    ...optionList("start"),
    "",
    ...wrap(`ferry start ops reads ${shared("start ops", startKeys)} (above), and:`, ""),
    ...optionList("start ops", startKeys),
    "  -h, --help",
    "        this text",
    "",
  ].join("\n");
}

/** `ferry COMMAND --help`: its synopsis, what it does and every option it takes. */
export function commandUsage(command: Command): string {
  const { synopsis, about } = commandHelp[command];
  const options = optionList(command);
  return [
    `${synopsis}`,
    ...wrap(about, "  "),
    "",
    ...(options.length ? ["Options (flag, environment variable, default):", ...options] : ["No options."]),
    "  -h, --help",
    "        this text",
    "",
  ].join("\n");
}
