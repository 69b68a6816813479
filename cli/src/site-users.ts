import { createHmac, randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { NatsUser } from "@ferry/natsd";
import { NatsRoles, natsCredentials, natsUrlWithCredentials, rolePermissions, type NatsRole } from "@ferry/runtime";

/** Whether an address is this machine's loopback (a server there is out of the network's reach, not of local processes'). */
export function isLoopback(host: string): boolean {
  return /^(127\.\d+\.\d+\.\d+|::1|localhost)$/i.test(host);
}

/** Each role's password on a site that requires credentials (kept in `<data>/nats/users.json`, 0600). */
export type SitePasswords = Record<NatsRole, string>;

/**
 * The site's role passwords: read from `file`, or made once (random) and written there, so services and
 * devices keep theirs across restarts. Roles missing from an older file get one.
 */
export async function sitePasswords(file: string): Promise<SitePasswords> {
  const stored = await readFile(file, "utf8").then((t) => JSON.parse(t) as Partial<SitePasswords>, () => ({}) as Partial<SitePasswords>);
  const out = {} as SitePasswords;
  let changed = false;
  for (const role of NatsRoles) {
    const p = stored[role];
    if (typeof p === "string" && p.length > 0) out[role] = p;
    else {
      out[role] = randomBytes(18).toString("base64url");
      changed = true;
    }
  }
  if (changed) {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    await writeFile(file, `${JSON.stringify(out, null, 2)}\n`, { mode: 0o600 });
  }
  return out;
}

/** Shortest `FERRY_NATS_SECRET` accepted. */
export const minSecretLength = 16;

/** A password derived from the site secret for `name` (a role, or the cluster's route user). */
function derived(secret: string, name: string): string {
  return createHmac("sha256", secret).update(`ferry nats user ${name}`).digest("base64url").slice(0, 32);
}

/** Checks a `FERRY_NATS_SECRET`; undefined when unset or empty. */
export function natsSecret(value: string | undefined): string | undefined {
  if (value === undefined || value === "") return undefined;
  if (value.length < minSecretLength) throw new Error(`FERRY_NATS_SECRET must be at least ${minSecretLength} characters (e.g. openssl rand -base64 32)`);
  return value;
}

/**
 * Role passwords derived from one site secret (`FERRY_NATS_SECRET`): every server of a cluster and every
 * service computes the same ones from the same secret, with nothing to share or create first.
 */
export function secretPasswords(secret: string): SitePasswords {
  return Object.fromEntries(NatsRoles.map((role) => [role, derived(secret, role)])) as SitePasswords;
}

/** The user cluster routes log in with, derived from the site secret. */
export function routeAuth(secret: string): { user: string; password: string } {
  return { user: "route", password: derived(secret, "route") };
}

/** Where a site whose spawned server requires credentials keeps its role passwords. */
export function usersFile(data: string): string {
  return join(data, "nats", "users.json");
}

/**
 * A role's password as a command on the site's machine knows it, without making any: derived from
 * FERRY_NATS_SECRET when it is set, else what an earlier `ferry start` kept in `<data>/nats/users.json`.
 */
export async function knownPassword(o: { natsSecret: string | undefined; data: string }, role: NatsRole): Promise<string | undefined> {
  if (o.natsSecret) return secretPasswords(o.natsSecret)[role];
  const stored = await readFile(usersFile(o.data), "utf8").then((t) => JSON.parse(t) as Partial<Record<NatsRole, unknown>>, () => undefined);
  const p = stored?.[role];
  return typeof p === "string" && p.length > 0 ? p : undefined;
}

/** The server's users: one per role, with that role's permissions. */
export function siteUsers(passwords: SitePasswords): NatsUser[] {
  return NatsRoles.map((role) => {
    const p = rolePermissions(role);
    return { user: role, password: passwords[role], ...(p ? { permissions: p } : {}) };
  });
}

/**
 * A role's URL of the site's server (`nats://role:password@host:port`); `url` as it is without passwords,
 * or when it names its own credentials already.
 */
export function roleUrl(url: string, role: NatsRole, passwords: SitePasswords | undefined): string {
  return passwords && !natsCredentials(url) ? natsUrlWithCredentials(url, role, passwords[role]) : url;
}
