import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { requireNatsServer } from "./server-binary.js";
import type { TlsFiles } from "./certificates.js";

/** How to run a local nats-server. */
export interface NatsServerOptions {
  /** Folder for the config, ports file and JetStream store (created). */
  dataDir: string;
  /** Client port; 0 picks a free one. Default 4222. */
  port?: number;
  /** Address to listen on. Default 127.0.0.1: a site server is not open to the network unless asked. */
  host?: string;
  /** Largest message the server accepts, bytes. Default 8 MiB. */
  maxPayload?: number;
  /** `jetstream.sync_interval`: "always" (every write synced before its ack) or a duration such as "2m". Default "always". */
  syncInterval?: string;
  /** Server name, also used as the JetStream store's sub-folder. Default "ferry". */
  serverName?: string;
  /** JetStream domain (an edge's name, or "hub"): other servers reach this one's JetStream as `$JS.<domain>.API`. */
  jetstreamDomain?: string;
  /** Users allowed to connect (clients and leaf nodes); none: no authentication. Passwords may be bcrypt hashes. */
  users?: readonly NatsUser[];
  /**
   * Users of the system account (`$SYS`): they may ask the server about its connections and close one
   * (`$SYS.REQ.SERVER.<id>.KICK`). Only for the process that owns the server.
   */
  systemUsers?: readonly NatsUser[];
  /** Accept leaf node connections on this port (0: a free one). */
  leafPort?: number;
  /** Link to these servers as a leaf node. */
  leafRemotes?: readonly LeafRemote[];
  /** Join a cluster of servers (each with its own `serverName` and `dataDir`). */
  cluster?: ClusterOptions;
  /**
   * TLS (1.2 or newer) on every listener: the client port, the leaf node port and cluster routes (which
   * also present the certificate to each other and must be signed by the same CA). Plain clients are refused.
   */
  tls?: NatsTls;
  /** Extra lines appended to the generated config. */
  extraConfig?: string;
  /** Where nats-server's own log lines go. Default: dropped. */
  log?: (line: string) => void;
  /** How long to wait for the server to listen, ms. Default 10 s. */
  startTimeoutMs?: number;
}

/** The server's TLS files. */
export interface NatsTls extends TlsFiles {
  /** Clients start TLS before the server says anything (nats.js `tls: { handshakeFirst: true }`). */
  handshakeFirst?: boolean;
}

/** A user of the server: a name and password, or an nkey (both kinds mix in one list). */
export type NatsUser = PasswordUser | NkeyUser;

/** A user that logs in with a name and password (which the config may hold as a bcrypt hash). */
export interface PasswordUser {
  user: string;
  password: string;
  /** Subjects it may publish to and subscribe to; none: everything. */
  permissions?: NatsUserPermissions;
}

/** A user that proves it holds the seed of this public nkey (`U...`) by signing the server's nonce: the config holds no secret. */
export interface NkeyUser {
  nkey: string;
  permissions?: NatsUserPermissions;
}

/** nats-server `permissions` of a user. */
export interface NatsUserPermissions {
  publish?: { allow?: readonly string[]; deny?: readonly string[] };
  subscribe?: { allow?: readonly string[]; deny?: readonly string[] };
  /** May answer requests it receives (one reply each, for a while): `allow_responses`. */
  allowResponses?: boolean;
}

/**
 * Membership of a cluster. JetStream runs clustered (streams with `num_replicas` up to the cluster's
 * size) once the servers find each other and elect a meta leader, which takes a few seconds.
 */
export interface ClusterOptions {
  /** The cluster's name, the same on every server of it. */
  name: string;
  /** Route port on `host`. Not 0: the other servers' `routes` must name it before it starts. */
  port: number;
  /** The other servers' (its own is harmless) route URLs, `nats-route://127.0.0.1:PORT`. */
  routes: readonly string[];
  /**
   * Routes must log in with this user and password (and the routes above are given them): without it,
   * anything that reaches the route port can join the cluster and see every message.
   */
  auth?: { user: string; password: string };
}

/** A leaf node link to another server. */
export interface LeafRemote {
  /** `nats-leaf://host:port`. */
  url: string;
  user?: string;
  password?: string;
  /**
   * Sign in as an nkey user with this seed (`SU...`): nats-server 2.10+ takes it as the remote's `nkey`
   * and signs the hub's nonce with it; the seed itself is never sent. It stays in this server's config (0600).
   */
  nkeySeed?: string;
  /** Link over TLS (1.2+), checking the other server's certificate against `caFile` (PEM), or the system's CAs without one. */
  tls?: { caFile?: string | undefined };
  /** Subjects never taken from the other side. */
  denyImports?: readonly string[];
  /** Subjects never sent to the other side. */
  denyExports?: readonly string[];
  /**
   * How this side compresses what it sends over the link (each side picks its own; "off" on either side
   * turns it off both ways). Default s2_auto. The others are for measuring: s2_auto does not compress
   * on loopback, since it picks the level by the link's round-trip time.
   */
  compression?: LeafCompression;
}

/** nats-server leaf link compression modes Ferry passes through. */
export type LeafCompression = "s2_auto" | "s2_fast" | "s2_better" | "s2_best" | "off";

/** A spawned nats-server. */
export interface NatsServer {
  readonly url: string;
  readonly port: number;
  readonly version: string;
  readonly configFile: string;
  readonly process: ChildProcess;
  /** Port of the leaf node listener, when there is one. */
  readonly leafPort: number | undefined;
  /** Rewrites the config with these users and reloads it (new connections are checked against them). */
  reloadUsers(users: readonly NatsUser[]): Promise<void>;
  /** Rewrites the config with these users, for a reload asked some other way (the system account's, which says when it is done). */
  writeUsers(users: readonly NatsUser[]): Promise<void>;
  /** SIGTERM (lame-duck-free shutdown), then SIGKILL after a grace period. */
  stop(): Promise<void>;
  /** SIGKILL at once: to test crash recovery. */
  kill(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

type ConfigInput = Required<Pick<NatsServerOptions, "serverName" | "host" | "port" | "maxPayload" | "syncInterval">>
  & Pick<NatsServerOptions, "jetstreamDomain" | "users" | "systemUsers" | "leafPort" | "leafRemotes" | "cluster" | "tls">
  & { storeDir: string; portsDir: string; extraConfig: string };

function configText(o: ConfigInput): string {
  return [
    `server_name: ${JSON.stringify(o.serverName)}`,
    `host: ${JSON.stringify(o.host)}`,
    `port: ${o.port === 0 ? -1 : o.port}`,
    `max_payload: ${o.maxPayload}`,
    // max_pending must hold at least one largest message.
    `max_pending: ${Math.max(64 * 1024 * 1024, 2 * o.maxPayload)}`,
    `ports_file_dir: ${JSON.stringify(o.portsDir)}`,
    "jetstream {",
    `  store_dir: ${JSON.stringify(o.storeDir)}`,
    // "always": a write is on disk before JetStream acknowledges it (the default flushes every 2 minutes).
    // A duration must be quoted ("120s"): nats-server's parser refuses a bare 120s here.
    `  sync_interval: ${o.syncInterval === "always" ? "always" : JSON.stringify(o.syncInterval)}`,
    ...(o.jetstreamDomain ? [`  domain: ${JSON.stringify(o.jetstreamDomain)}`] : []),
    "}",
    ...(o.tls ? tlsBlock("", o.tls, { handshakeFirst: o.tls.handshakeFirst }) : []),
    ...usersText(o.users),
    ...systemUsersText(o.systemUsers),
    ...leafText(o.host, o.leafPort, o.leafRemotes, o.tls),
    ...clusterText(o.host, o.cluster, o.tls),
    o.extraConfig,
    "",
  ].join("\n");
}

function permissionsText(p: NatsUserPermissions | undefined): string {
  if (!p) return "";
  const side = (name: string, x: { allow?: readonly string[]; deny?: readonly string[] } | undefined): string[] => {
    if (!x) return [];
    const parts = [...(x.allow ? [`allow: ${JSON.stringify(x.allow)}`] : []), ...(x.deny ? [`deny: ${JSON.stringify(x.deny)}`] : [])];
    return [`${name}: { ${parts.join(", ")} }`];
  };
  const parts = [...side("publish", p.publish), ...side("subscribe", p.subscribe), ...(p.allowResponses ? ["allow_responses: true"] : [])];
  return `, permissions: { ${parts.join(", ")} }`;
}

function userText(u: NatsUser): string {
  const who = "nkey" in u ? `nkey: ${JSON.stringify(u.nkey)}` : `user: ${JSON.stringify(u.user)}, password: ${JSON.stringify(u.password)}`;
  return `    { ${who}${permissionsText(u.permissions)} }`;
}

function usersText(users: readonly NatsUser[] | undefined): string[] {
  if (!users) return [];
  return ["authorization {", "  users: [", ...users.map(userText), "  ]", "}"];
}

// The users above stay in the global account (and its JetStream store); these log in to the system one.
function systemUsersText(users: readonly NatsUser[] | undefined): string[] {
  if (!users?.length) return [];
  return ["accounts {", "  $SYS {", "    users: [", ...users.map((u) => `  ${userText(u)}`), "    ]", "  }", "}"];
}

/**
 * A `tls {}` block. No `allow_non_tls`: a client that does not speak TLS is refused. Routes verify
 * each other's certificate (`verify`), as both ends are servers of the same CA.
 */
function tlsBlock(indent: string, t: TlsFiles, extra: { handshakeFirst?: boolean | undefined; verify?: boolean } = {}): string[] {
  return [
    `${indent}tls {`,
    `${indent}  cert_file: ${JSON.stringify(t.certFile)}`,
    `${indent}  key_file: ${JSON.stringify(t.keyFile)}`,
    `${indent}  ca_file: ${JSON.stringify(t.caFile)}`,
    `${indent}  min_version: "1.2"`,
    ...(extra.handshakeFirst ? [`${indent}  handshake_first: true`] : []),
    ...(extra.verify ? [`${indent}  verify: true`] : []),
    `${indent}}`,
  ];
}

function leafText(host: string, port: number | undefined, remotes: readonly LeafRemote[] | undefined, tls: TlsFiles | undefined): string[] {
  if (port === undefined && !remotes?.length) return [];
  const remote = (r: LeafRemote): string => {
    const url = new URL(r.url);
    if (r.user) url.username = encodeURIComponent(r.user);
    if (r.password) url.password = encodeURIComponent(r.password);
    const extra = [
      ...(r.nkeySeed ? [`nkey: ${JSON.stringify(r.nkeySeed)}`] : []),
      ...(r.denyImports?.length ? [`deny_imports: ${JSON.stringify(r.denyImports)}`] : []),
      ...(r.denyExports?.length ? [`deny_exports: ${JSON.stringify(r.denyExports)}`] : []),
    ];
    // s2_auto: compress more as the link's round trip grows (a cellular uplink), not at all on loopback.
    // The edge checks the hub's certificate against the CA it was given at join.
    const tlsRemote = r.tls ? [`tls: { ${r.tls.caFile ? `ca_file: ${JSON.stringify(r.tls.caFile)}, ` : ""}min_version: "1.2" }`] : [];
    return `    { url: ${JSON.stringify(url.toString())}, compression: ${r.compression ?? "s2_auto"}${[...extra, ...tlsRemote].map((d) => `, ${d}`).join("")} }`;
  };
  return [
    "leafnodes {",
    // Edges dial the URL they were given; advertising this server's other addresses only slows reconnects.
    ...(port !== undefined ? [`  host: ${JSON.stringify(host)}`, `  port: ${port === 0 ? -1 : port}`, "  no_advertise: true", "  compression: s2_auto"] : []),
    ...(port !== undefined && tls ? tlsBlock("  ", tls) : []),
    // Half a second between tries (nats-server: 1 s): a hub back from a restart is relinked, and its log
    // sync resumed, well within a second; a refused try costs one connection attempt.
    ...(remotes?.length ? ['  reconnect: "500ms"', "  remotes: [", ...remotes.map(remote), "  ]"] : []),
    "}",
  ];
}

function withUser(url: string, auth: { user: string; password: string }): string {
  const u = new URL(url);
  u.username = encodeURIComponent(auth.user);
  u.password = encodeURIComponent(auth.password);
  return u.toString();
}

function clusterText(host: string, c: ClusterOptions | undefined, tls: TlsFiles | undefined): string[] {
  if (!c) return [];
  return [
    "cluster {",
    `  name: ${JSON.stringify(c.name)}`,
    `  listen: ${JSON.stringify(`${host}:${c.port}`)}`,
    ...(c.auth ? [`  authorization { user: ${JSON.stringify(c.auth.user)}, password: ${JSON.stringify(c.auth.password)} }`] : []),
    `  routes: ${JSON.stringify(c.auth ? c.routes.map((r) => withUser(r, c.auth!)) : c.routes)}`,
    ...(tls ? tlsBlock("  ", tls, { verify: true }) : []),
    "}",
  ];
}

/** Spawns nats-server with JetStream and resolves once it accepts clients. */
export async function startNatsServer(options: NatsServerOptions): Promise<NatsServer> {
  const { path: bin, version: [major, minor, patch] } = requireNatsServer();
  if (options.cluster && !(options.cluster.port > 0)) throw new Error("cluster.port must be a fixed port: the other servers' routes name it");
  const dataDir = resolve(options.dataDir);
  const portsDir = join(dataDir, "run");
  await mkdir(portsDir, { recursive: true });
  await killLeftovers(portsDir);
  const configFile = join(dataDir, "nats-server.conf");
  const config: ConfigInput = {
    port: options.port ?? 4222,
    host: options.host ?? "127.0.0.1",
    maxPayload: options.maxPayload ?? 8 * 1024 * 1024,
    syncInterval: options.syncInterval ?? "always",
    serverName: options.serverName ?? "ferry",
    storeDir: dataDir, // the server adds "jetstream/" itself
    portsDir,
    extraConfig: options.extraConfig ?? "",
    jetstreamDomain: options.jetstreamDomain,
    users: options.users,
    systemUsers: options.systemUsers,
    leafPort: options.leafPort,
    leafRemotes: options.leafRemotes,
    cluster: options.cluster,
    tls: options.tls,
  };
  // Passwords may be in it.
  await writeFile(configFile, configText(config), { mode: 0o600 });
  // Its own process group: a Ctrl-C in the terminal reaches Ferry, which drains its connections and
  // only then stops the server (a server stopping first would lose the last unsent log records).
  const child = spawn(bin, ["-c", configFile], { stdio: ["ignore", "pipe", "pipe"], detached: true });
  const killOnExit = (): void => { child.kill("SIGKILL"); };
  process.once("exit", killOnExit);
  child.once("exit", () => process.off("exit", killOnExit));
  const log = options.log;
  const lines: string[] = [];
  // nats-server (2.9 to 2.15 alike) leaves the leaf node port out of its ports file; its log line names it.
  let leafFromLog: number | undefined;
  const onData = (chunk: Buffer): void => {
    for (const line of chunk.toString("utf8").split("\n")) {
      if (!line) continue;
      if (lines.length < 50) lines.push(line);
      const leafLine = /Listening for leafnode connections on .*:(\d+)\s*$/.exec(line);
      if (leafLine) leafFromLog = Number(leafLine[1]);
      log?.(line);
    }
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  const exited = new Promise<number | null>((res) => child.once("exit", (code) => res(code)));
  const ports = await waitForPorts(child, portsDir, exited, options.startTimeoutMs ?? 10_000, options.leafPort !== undefined, () => leafFromLog).catch((err: unknown) => {
    child.kill("SIGKILL");
    throw new Error(`nats-server did not start: ${(err as Error).message}\n${lines.join("\n")}`);
  });
  const host = options.host && options.host !== "0.0.0.0" ? options.host : "127.0.0.1";
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  };
  const port = ports.client;
  const writeUsers = async (users: readonly NatsUser[]): Promise<void> => {
    config.users = users;
    await writeFile(configFile, configText(config), { mode: 0o600 });
  };
  return {
    // tls:// says so to clients (nats.js and the nats CLI then insist on TLS).
    url: `${options.tls ? "tls" : "nats"}://${host}:${port}`,
    port,
    leafPort: ports.leaf,
    reloadUsers: async (users) => {
      await writeUsers(users);
      child.kill("SIGHUP");
    },
    writeUsers,
    version: `${major}.${minor}.${patch}`,
    configFile,
    process: child,
    stop,
    kill: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGKILL");
      await exited;
    },
    [Symbol.asyncDispose]: stop,
  };
}

/**
 * A server left running by a Ferry that was killed outright (its ports file is still there, named by
 * pid) would hold the port and the store: stop it, if it is still that server and no live Node process
 * owns it (a second start on the folder must never stop the first one's server).
 */
async function killLeftovers(portsDir: string): Promise<void> {
  for (const f of await readdir(portsDir)) {
    const m = /^nats-server_(\d+)\.ports$/.exec(f);
    if (!m) continue;
    const pid = Number(m[1]);
    const cmd = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (cmd.includes("nats-server") && cmd.includes(dirname(portsDir))) {
      const owner = await liveOwner(pid);
      if (owner !== undefined) throw new Error(`the nats-server in ${dirname(portsDir)} (pid ${pid}) belongs to a running process (pid ${owner}): stop that one first`);
      process.kill(pid, "SIGTERM");
      for (let i = 0; i < 100 && (await isAlive(pid)); i++) await sleep(50);
    }
    await rm(join(portsDir, f), { force: true });
  }
}

/** The pid of the Node process that spawned `pid`, if it still runs (an orphan's parent is init or a subreaper). */
async function liveOwner(pid: number): Promise<number | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  if (!(ppid > 1) || ppid === process.pid) return undefined;
  const parent = await readFile(`/proc/${ppid}/cmdline`, "utf8").catch(() => "");
  return /(^|\/)node\0/.test(parent) ? ppid : undefined;
}

async function isAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
    return !(await readFile(`/proc/${pid}/stat`, "utf8")).split(" ")[2]?.startsWith("Z");
  } catch {
    return false;
  }
}

async function waitForPorts(child: ChildProcess, portsDir: string, exited: Promise<number | null>, timeoutMs: number, leaf: boolean, leafFromLog: () => number | undefined): Promise<{ client: number; leaf?: number }> {
  let done = false;
  void exited.then(() => { done = true; });
  const deadline = Date.now() + timeoutMs;
  const file = `nats-server_${child.pid}.ports`;
  while (Date.now() < deadline) {
    if (done) throw new Error(`exited with code ${child.exitCode}`);
    try {
      const ports = JSON.parse(await readFile(join(portsDir, file), "utf8")) as { nats?: string[]; leafnode?: string[] };
      const url = ports.nats?.[0];
      const leafPort = ports.leafnode?.[0] ? Number(new URL(ports.leafnode[0]).port) : leafFromLog();
      if (url && (!leaf || leafPort)) return { client: Number(new URL(url).port), ...(leafPort ? { leaf: leafPort } : {}) };
    } catch {
      // not written yet
    }
    await sleep(20);
  }
  throw new Error(`no ports file after ${timeoutMs} ms`);
}
