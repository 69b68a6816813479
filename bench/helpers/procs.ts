import { execFile, spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** A process whose CPU and memory the bench reports. */
export interface Proc {
  label: string;
  pid: number;
  /** A Node process: its main thread (the event loop) is reported on its own. */
  node: boolean;
}

/** A server child spawned by the bench. */
export interface Child extends Proc {
  readonly process: ChildProcess;
  /** Last lines it printed, for error messages. */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

const live = new Set<Child>();

function hasExited(p: ChildProcess): boolean {
  return p.exitCode !== null || p.signalCode !== null;
}

/** Spawns a child with piped output (kept as a short tail) and tracks it until it exits. */
export function spawnChild(label: string, command: string, args: readonly string[], cwd: string): Child {
  const proc = spawn(command, args, { cwd, stdio: ["ignore", "pipe", "pipe"], env: process.env });
  if (proc.pid === undefined) throw new Error(`could not spawn ${label}: ${command}`);
  const tail: string[] = [];
  const keep = (chunk: Buffer): void => {
    tail.push(chunk.toString("utf8"));
    if (tail.length > 40) tail.shift();
  };
  proc.stdout?.on("data", keep);
  proc.stderr?.on("data", keep);
  const exited = new Promise<void>((res) => proc.once("exit", () => {
    res();
  }));
  const child: Child = {
    label, pid: proc.pid, node: command === process.execPath, process: proc,
    output: () => tail.join("").slice(-4000),
    stop: async (graceMs = 5000) => {
      if (!hasExited(proc)) {
        proc.kill("SIGTERM");
        const timer = setTimeout(() => {
          process.stderr.write(`[bench] ${label} ignored SIGTERM for ${graceMs} ms: killing it\n`);
          proc.kill("SIGKILL");
        }, graceMs);
        await exited;
        clearTimeout(timer);
      }
      live.delete(child);
    },
  };
  live.add(child);
  void exited.then(() => live.delete(child));
  return child;
}

/** Last resort on failure or Ctrl-C: stops every child still running. */
export async function stopAllChildren(): Promise<void> {
  await Promise.all([...live].map((c) => c.stop(2000)));
}

/** Whether the child has exited (used to fail fast while waiting for readiness). */
export function exited(c: Child): boolean {
  return hasExited(c.process);
}

/** Every Cleanup with steps left, so a failure or Ctrl-C can tear down even a half-started topology. */
const pending = new Set<Cleanup>();

/** Reverse-order teardown steps; each runs once, errors are reported and skipped. */
export class Cleanup {
  readonly #steps: (() => Promise<void>)[] = [];
  #running: Promise<void> = Promise.resolve();

  defer(step: () => Promise<void>): void {
    this.#steps.push(step);
    pending.add(this);
  }

  /** Runs the steps left; a call made while another runs waits for it (Ctrl-C can race a failure). */
  run(): Promise<void> {
    this.#running = this.#running.then(() => this.#drain());
    return this.#running;
  }

  async #drain(): Promise<void> {
    for (let step = this.#steps.pop(); step; step = this.#steps.pop()) {
      await step().catch((err: unknown) => process.stderr.write(`[bench] cleanup step failed: ${String(err)}\n`));
    }
    pending.delete(this);
  }

  /** Runs every Cleanup that still has steps, newest first. */
  static async runAll(): Promise<void> {
    for (const c of [...pending].reverse()) await c.run();
  }
}

/** A free loopback TCP port (closed again at once; a small race the bench accepts). */
export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once("error", rej);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => {
        if (port) res(port);
        else rej(new Error("no port"));
      });
    });
  });
}

/** Direct children of `pid` (pgrep -P). */
export async function childPids(pid: number): Promise<number[]> {
  try {
    const { stdout } = await execFileAsync("pgrep", ["-P", String(pid)]);
    return stdout.split("\n").filter(Boolean).map(Number);
  } catch {
    return []; // pgrep exits 1 when there are none
  }
}

/** The process's command line, or "" once it is gone. */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim();
  } catch {
    return "";
  }
}

/** VmHWM (peak resident set) and VmRSS in KiB, from /proc/<pid>/status. */
export function memoryKiB(pid: number): { peak: number; now: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
    return { peak: field("VmHWM"), now: field("VmRSS") };
  } catch {
    return undefined;
  }
}

/** utime+stime ticks of a /proc stat file (fields 14 and 15; the command name may hold spaces). */
function statTicks(path: string): number {
  try {
    const text = readFileSync(path, "utf8");
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return Number.NaN;
  }
}

/** CPU time used so far by the whole process and by its main thread, in ticks. */
export function cpuTicks(pid: number): { total: number; main: number } {
  return { total: statTicks(`/proc/${pid}/stat`), main: statTicks(`/proc/${pid}/task/${pid}/stat`) };
}

let clockTicks: number | undefined;

/** Kernel clock ticks per second (getconf CLK_TCK, 100 on Linux in practice). */
export async function ticksPerSecond(): Promise<number> {
  if (clockTicks === undefined) {
    const { stdout } = await execFileAsync("getconf", ["CLK_TCK"]).catch(() => ({ stdout: "100" }));
    clockTicks = Number(stdout.trim()) || 100;
  }
  return clockTicks;
}

/** Busy ticks of the whole machine, all cores summed, from the first line of /proc/stat. */
export function machineBusyTicks(): number {
  try {
    const [, user, nice, system, , , irq, softirq, steal] = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).map(Number);
    return (user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0);
  } catch {
    return Number.NaN;
  }
}
