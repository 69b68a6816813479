import { readFileSync } from "node:fs";
import { mkdir, open, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { StartRefused } from "./start-wait.js";

/** What the lock file says about its owner. */
interface LockOwner {
  pid: number;
  /** The process's start time in clock ticks since boot (`/proc/<pid>/stat`): a reused pid has another. */
  since: string | undefined;
  command: string;
  started: string;
}

/** A data folder held by this process; `release()` lets the next start have it. */
export interface DataLock {
  readonly file: string;
  release(): Promise<void>;
}

/**
 * Takes `<data>/ferry.lock` for this process, or refuses when a live process holds it: two Ferrys on one
 * folder would share (and the second would stop) one nats-server and its store. A lock left by a process
 * that is gone (a `kill -9`, a power cut) is taken over.
 */
export async function lockDataFolder(data: string, command: string): Promise<DataLock> {
  await mkdir(data, { recursive: true });
  const file = join(data, "ferry.lock");
  const owner: LockOwner = { pid: process.pid, since: processStart(process.pid), command, started: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(file, "wx", 0o644);
      await handle.writeFile(JSON.stringify(owner));
      await handle.close();
      return { file, release: () => releaseIfOurs(file) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      await refuseOrClear(file, data);
    }
  }
  throw new StartRefused(`could not take ${file}: another start is taking it at the same moment`);
}

/** Refuses when the lock's owner is alive; removes a stale lock (only if it is still the one read). */
async function refuseOrClear(file: string, data: string): Promise<void> {
  const text = await readFile(file, "utf8").catch(() => "");
  const held = parseOwner(text);
  if (held && held.pid !== process.pid && isRunning(held)) {
    throw new StartRefused(`the data folder ${data} is in use by another Ferry (pid ${held.pid}, \`ferry ${held.command}\` since ${held.started}): `
      + "stop that one first, or give this one its own folder (--data)");
  }
  // Re-read just before removing: another start may have taken the lock meanwhile.
  if ((await readFile(file, "utf8").catch(() => "")) === text) await rm(file, { force: true });
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const o = JSON.parse(text) as Partial<LockOwner>;
    return typeof o.pid === "number" ? { pid: o.pid, since: o.since, command: String(o.command ?? "start"), started: String(o.started ?? "?") } : undefined;
  } catch {
    // Empty or torn (the owner died while writing it): nobody holds it.
    return undefined;
  }
}

function isRunning(owner: LockOwner): boolean {
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to another user.
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  const since = processStart(owner.pid);
  return owner.since === undefined || since === undefined || since === owner.since;
}

/** Field 22 of `/proc/<pid>/stat` (after the command name, which may hold spaces and parentheses). */
function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

async function releaseIfOurs(file: string): Promise<void> {
  const held = parseOwner(await readFile(file, "utf8").catch(() => ""));
  if (held?.pid === process.pid) await rm(file, { force: true });
}
