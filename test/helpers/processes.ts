import { readFileSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";

/** Whether `pid` runs (a zombie does not: an orphan's reaper may be slow to reap it, or never). */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** The pid of a site's spawned nats-server, from its ports file in `<data>/nats/run`; undefined when none. */
export async function natsServerPid(data: string): Promise<number | undefined> {
  const f = (await readdir(join(data, "nats", "run")).catch(() => [])).find((n) => /^nats-server_\d+\.ports$/.test(n));
  return f ? Number(/\d+/.exec(f)![0]) : undefined;
}
