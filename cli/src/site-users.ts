import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { NatsUser } from "@ferry/natsd";
import { NatsRoles, natsUrlWithCredentials, rolePermissions, type NatsRole } from "@ferry/contracts";

/** `--nats-auth`: require credentials always, never, or when the server listens beyond loopback. */
export type NatsAuthMode = "auto" | "on" | "off";

/** Whether the spawned nats-server requires credentials. */
export function natsAuthRequired(mode: NatsAuthMode, natsHost: string): boolean {
  if (mode !== "auto") return mode === "on";
  return !/^(127\.\d+\.\d+\.\d+|::1|localhost)$/i.test(natsHost);
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

/** The server's users: one per role, with that role's permissions. */
export function siteUsers(passwords: SitePasswords): NatsUser[] {
  return NatsRoles.map((role) => {
    const p = rolePermissions(role);
    return { user: role, password: passwords[role], ...(p ? { permissions: p } : {}) };
  });
}

/** A role's URL of the site's server (`nats://role:password@host:port`), or `url` as it is without passwords. */
export function roleUrl(url: string, role: NatsRole, passwords: SitePasswords | undefined): string {
  return passwords ? natsUrlWithCredentials(url, role, passwords[role]) : url;
}
