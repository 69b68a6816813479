import { createHash, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import bcrypt from "bcryptjs";

/** A fresh one-time join token (a UUID, as Wallaroo's bundles carry). */
export function newJoinToken(): string {
  return randomUUID();
}

/** A fresh NATS password for an edge's leaf link. */
export function newPassword(): string {
  return randomBytes(24).toString("base64url");
}

/** What the registry keeps of a token: its sha256, never the token. */
export function tokenHash(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** Whether `token` is the one whose hash is `hash` (constant time). */
export function tokenMatches(token: string, hash: string): boolean {
  const a = Buffer.from(tokenHash(token), "hex");
  const b = Buffer.from(hash, "hex");
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The bcrypt hash nats-server checks a password against (the server config never holds the password). */
export function passwordHash(password: string): Promise<string> {
  return bcrypt.hash(password, 10);
}
