import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The oldest nats-server Ferry runs on: `sync_interval`, S2 compression and leaf compression need 2.10. */
export const MIN_NATS_SERVER: readonly [number, number, number] = [2, 10, 0];

/** Where `scripts/setup.sh` unpacks Debian's current nats-server (ignored by git). */
export const PROJECT_NATS_SERVER = resolve(fileURLToPath(import.meta.url), "../../../.ferry/nats-server/usr/sbin/nats-server");

/** How to get a current server, for every refusal. */
export const NEWER_SERVER_HINT = "run `bash scripts/setup.sh` as root (it fetches Debian's current nats-server into .ferry/), "
  + "or set FERRY_NATS_SERVER to a nats-server 2.10 or newer";

const debianPaths = ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"];

/** A nats-server binary and where it was found. */
export interface ServerBinary {
  path: string;
  from: "FERRY_NATS_SERVER" | "project" | "PATH";
}

/** The binary Ferry spawns: FERRY_NATS_SERVER, then the project's own copy, then PATH (and Debian's /usr/sbin). */
export function findNatsServer(env: NodeJS.ProcessEnv = process.env): ServerBinary | undefined {
  if (env.FERRY_NATS_SERVER) return { path: env.FERRY_NATS_SERVER, from: "FERRY_NATS_SERVER" };
  if (existsSync(PROJECT_NATS_SERVER)) return { path: PROJECT_NATS_SERVER, from: "project" };
  for (const dir of (env.PATH ?? "").split(":")) {
    if (dir && existsSync(join(dir, "nats-server"))) return { path: join(dir, "nats-server"), from: "PATH" };
  }
  const found = debianPaths.find((p) => existsSync(p));
  return found ? { path: found, from: "PATH" } : undefined;
}

/** A version such as "2.15.1" or "v2.9.10-beta" as [major, minor, patch]; undefined if none is there. */
export function parseServerVersion(text: string): [number, number, number] | undefined {
  const m = /v?(\d+)\.(\d+)\.(\d+)/.exec(text);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

/** Whether `v` is at least MIN_NATS_SERVER. */
export function isCurrentEnough(v: readonly [number, number, number]): boolean {
  for (let i = 0; i < 3; i++) if (v[i] !== MIN_NATS_SERVER[i]) return v[i]! > MIN_NATS_SERVER[i]!;
  return true;
}

/** The binary's version as [major, minor, patch]. */
export function natsServerVersion(bin: string): [number, number, number] {
  const out = execFileSync(bin, ["--version"], { encoding: "utf8" });
  const v = parseServerVersion(out);
  if (!v) throw new Error(`cannot read nats-server version from: ${out.trim()}`);
  return v;
}

/** The binary to spawn and its version; throws with how to get a newer one when it is missing or too old. */
export function requireNatsServer(env: NodeJS.ProcessEnv = process.env): ServerBinary & { version: [number, number, number] } {
  const bin = findNatsServer(env);
  if (!bin) throw new Error(`nats-server not found: ${NEWER_SERVER_HINT}`);
  const version = natsServerVersion(bin.path);
  if (!isCurrentEnough(version)) {
    throw new Error(`nats-server ${version.join(".")} at ${bin.path} (from ${bin.from}) is too old: Ferry needs ${MIN_NATS_SERVER.join(".")} or newer `
      + `(acknowledged writes synced to disk, compressed logs and links); ${NEWER_SERVER_HINT}`);
  }
  return { ...bin, version };
}
