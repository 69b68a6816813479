import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

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
  /** `jetstream.sync_interval` where the server supports it (2.10+); e.g. "always". Default "always". */
  syncInterval?: string;
  /** Server name, also used as the JetStream store's sub-folder. Default "ferry". */
  serverName?: string;
  /** Extra lines appended to the generated config. */
  extraConfig?: string;
  /** Where nats-server's own log lines go. Default: dropped. */
  log?: (line: string) => void;
  /** How long to wait for the server to listen, ms. Default 10 s. */
  startTimeoutMs?: number;
}

/** A spawned nats-server. */
export interface NatsServer {
  readonly url: string;
  readonly port: number;
  readonly version: string;
  readonly configFile: string;
  readonly process: ChildProcess;
  /** SIGTERM (lame-duck-free shutdown), then SIGKILL after a grace period. */
  stop(): Promise<void>;
  /** SIGKILL at once: to test crash recovery. */
  kill(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const candidates = ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"];

/** Path of the nats-server binary (PATH first, then Debian's /usr/sbin), or undefined. */
export function findNatsServer(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir && existsSync(join(dir, "nats-server"))) return join(dir, "nats-server");
  }
  return candidates.find((p) => existsSync(p));
}

/** The server's version as [major, minor, patch]. */
export function natsServerVersion(bin: string): [number, number, number] {
  const out = execFileSync(bin, ["--version"], { encoding: "utf8" });
  const m = /v?(\d+)\.(\d+)\.(\d+)/.exec(out);
  if (!m) throw new Error(`cannot read nats-server version from: ${out.trim()}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

function configText(o: Required<Omit<NatsServerOptions, "log" | "extraConfig">> & { storeDir: string; portsDir: string; supportsSync: boolean; extraConfig: string }): string {
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
    o.supportsSync ? `  sync_interval: ${o.syncInterval}` : "  # sync_interval needs nats-server 2.10+; this server flushes on its own schedule",
    "}",
    o.extraConfig,
    "",
  ].join("\n");
}

/** Spawns nats-server with JetStream and resolves once it accepts clients. */
export async function startNatsServer(options: NatsServerOptions): Promise<NatsServer> {
  const bin = findNatsServer();
  if (!bin) throw new Error("nats-server not found: install it with `apt-get install -y nats-server` (Debian package)");
  const [major, minor, patch] = natsServerVersion(bin);
  const dataDir = resolve(options.dataDir);
  const portsDir = join(dataDir, "run");
  await mkdir(portsDir, { recursive: true });
  await killLeftovers(portsDir);
  const configFile = join(dataDir, "nats-server.conf");
  await writeFile(configFile, configText({
    dataDir,
    port: options.port ?? 4222,
    host: options.host ?? "127.0.0.1",
    maxPayload: options.maxPayload ?? 8 * 1024 * 1024,
    syncInterval: options.syncInterval ?? "always",
    serverName: options.serverName ?? "ferry",
    startTimeoutMs: 0,
    storeDir: dataDir, // the server adds "jetstream/" itself
    portsDir,
    supportsSync: major > 2 || (major === 2 && minor >= 10),
    extraConfig: options.extraConfig ?? "",
  }));
  // Its own process group: a Ctrl-C in the terminal reaches Ferry, which drains its connections and
  // only then stops the server (a server stopping first would lose the last unsent log records).
  const child = spawn(bin, ["-c", configFile], { stdio: ["ignore", "pipe", "pipe"], detached: true });
  const killOnExit = (): void => { child.kill("SIGKILL"); };
  process.once("exit", killOnExit);
  child.once("exit", () => process.off("exit", killOnExit));
  const log = options.log;
  const lines: string[] = [];
  const onData = (chunk: Buffer): void => {
    for (const line of chunk.toString("utf8").split("\n")) {
      if (!line) continue;
      if (lines.length < 50) lines.push(line);
      log?.(line);
    }
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  const exited = new Promise<number | null>((res) => child.once("exit", (code) => res(code)));
  const port = await waitForPort(child, portsDir, exited, options.startTimeoutMs ?? 10_000).catch((err: unknown) => {
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
  return {
    url: `nats://${host}:${port}`,
    port,
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
 * pid) would hold the port and the store: stop it, if it is still that server.
 */
async function killLeftovers(portsDir: string): Promise<void> {
  for (const f of await readdir(portsDir)) {
    const m = /^nats-server_(\d+)\.ports$/.exec(f);
    if (!m) continue;
    const pid = Number(m[1]);
    try {
      const cmd = await readFile(`/proc/${pid}/cmdline`, "utf8");
      if (cmd.includes("nats-server") && cmd.includes(dirname(portsDir))) {
        process.kill(pid, "SIGTERM");
        for (let i = 0; i < 100 && (await isAlive(pid)); i++) await sleep(50);
      }
    } catch {
      // not running any more
    }
    await rm(join(portsDir, f), { force: true });
  }
}

async function isAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
    return !(await readFile(`/proc/${pid}/stat`, "utf8")).split(" ")[2]?.startsWith("Z");
  } catch {
    return false;
  }
}

async function waitForPort(child: ChildProcess, portsDir: string, exited: Promise<number | null>, timeoutMs: number): Promise<number> {
  let done = false;
  void exited.then(() => { done = true; });
  const deadline = Date.now() + timeoutMs;
  const file = `nats-server_${child.pid}.ports`;
  while (Date.now() < deadline) {
    if (done) throw new Error(`exited with code ${child.exitCode}`);
    try {
      const ports = JSON.parse(await readFile(join(portsDir, file), "utf8")) as { nats?: string[] };
      const url = ports.nats?.[0];
      if (url) return Number(new URL(url).port);
    } catch {
      // not written yet
    }
    await sleep(20);
  }
  throw new Error(`no ports file after ${timeoutMs} ms`);
}
