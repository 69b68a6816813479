// Named device users of a site's spawned nats-server: `<data>/nats/devices.json` (0600) holds each one's
// bcrypt hash, never its password; `ferry start` watches the file and reloads the server's users.
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { unwatchFile, watchFile, type Stats } from "node:fs";
import { dirname, join } from "node:path";
import type { NatsServer, NatsUser } from "@ferry/natsd";
import { isSubjectToken } from "@ferry/contracts";
import { passwordHash } from "@ferry/ops";
import { NatsRoles, devicePermissions } from "@ferry/runtime";

/** One device as stored: its password's bcrypt hash (what nats-server checks) and when it was added. */
export interface DeviceRecord {
  hash: string;
  created: string;
}

export type Devices = Record<string, DeviceRecord>;

/** Where a site keeps its device users. */
export function devicesFile(data: string): string {
  return join(data, "nats", "devices.json");
}

/** A refused device name, with a stable code. */
export class DeviceError extends Error {
  constructor(readonly code: "bad_name" | "exists" | "not_found", message: string) {
    super(message);
  }
}

/**
 * Whether `name` can be a device: one subject token (it goes into the device's subjects), and none of the
 * role users' names (the shared `device` included) nor the cluster's `route` user.
 */
export function checkDeviceName(name: string): void {
  if (!isSubjectToken(name)) throw new DeviceError("bad_name", `device name ${JSON.stringify(name)} must be letters, digits, _ and - (at most 128)`);
  if ((NatsRoles as readonly string[]).includes(name) || name === "route") throw new DeviceError("bad_name", `${name} is a role user's name, not a device's`);
}

/** The stored devices (none when the file does not exist). */
export async function readDevices(file: string): Promise<Devices> {
  const text = await readFile(file, "utf8").catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return "{}";
    throw err;
  });
  return JSON.parse(text) as Devices;
}

/** Writes the devices whole (a temporary file renamed over the old one: the watcher never reads half a file). */
export async function writeDevices(file: string, devices: Devices): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(devices, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, file);
}

/** Adds a device with a new random password; returns the password (shown once, never stored). */
export async function addDevice(file: string, name: string): Promise<string> {
  checkDeviceName(name);
  const devices = await readDevices(file);
  if (devices[name]) throw new DeviceError("exists", `device ${name} exists already (ferry device remove ${name} first)`);
  const password = randomBytes(18).toString("base64url");
  devices[name] = { hash: await passwordHash(password), created: new Date().toISOString() };
  await writeDevices(file, devices);
  return password;
}

/** Removes a device: its user goes from the server at the next reload, and its connections are refused from then on. */
export async function removeDevice(file: string, name: string): Promise<void> {
  const devices = await readDevices(file);
  if (!devices[name]) throw new DeviceError("not_found", `no device ${name}`);
  delete devices[name];
  await writeDevices(file, devices);
}

/** The server's user of each device: its bcrypt hash, with permissions to its own subjects only. */
export function deviceUsers(devices: Devices): NatsUser[] {
  return Object.entries(devices).map(([name, d]) => ({ user: name, password: d.hash, permissions: devicePermissions(name) }));
}

/**
 * Reloads `server`'s users whenever the devices file changes, until the server's process exits: polled
 * (renames and edits alike are seen), so `ferry device add` needs no connection to the running site.
 */
export function watchDevices(file: string, server: NatsServer, roleUsers: readonly NatsUser[], onError: (err: unknown) => void): void {
  // One reload at a time, each reading the file at its turn: an older read never overwrites a newer one.
  let last = Promise.resolve();
  const reload = (curr: Stats, prev: Stats): void => {
    // Node calls once at once for a missing file (both zeroed): nothing changed, and a reload is not free
    // (a client logging in during one may be refused, as seen with TLS).
    if (curr.mtimeMs === prev.mtimeMs && curr.ino === prev.ino && curr.size === prev.size) return;
    last = last.then(async () => server.reloadUsers([...roleUsers, ...deviceUsers(await readDevices(file))])).catch(onError);
  };
  watchFile(file, { interval: DEVICE_POLL_MS, persistent: false }, reload);
  server.process.once("exit", () => unwatchFile(file, reload));
}

/** How often `ferry start` looks at the devices file, ms. */
export const DEVICE_POLL_MS = 1000;
