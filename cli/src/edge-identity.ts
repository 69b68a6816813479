// The edge's identity: a user nkey made on the edge at join. The seed stays in the edge's data folder
// (0600) and in its own nats-server's config (0600), which signs the hub's nonce with it on the leaf
// link; only the public key (`U...`) ever goes to the hub.
import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { createUser, fromSeed } from "@nats-io/nkeys";
import { edgeStatusMessage, type EdgeStanding, type EdgeStatusReply, type EdgeStatusRequest } from "@ferry/contracts";
import { writePrivate } from "@ferry/natsd";
import { fetchTrusting } from "@ferry/runtime";

/** A fresh identity: the public key the join sends, and the seed that never leaves the edge. */
export interface EdgeIdentity {
  nkey: string;
  seed: string;
}

/** Where an edge keeps its nkey seed: `<data>/edge/nkey.seed` (mode 0600, folder 0700). */
export function seedPath(dataDir: string): string {
  return join(dataDir, "edge", "nkey.seed");
}

/** A new user nkey, made for one join (a re-added edge gets a new one: the old identity stays refused). */
export function newIdentity(): EdgeIdentity {
  const kp = createUser();
  return { nkey: kp.getPublicKey(), seed: new TextDecoder().decode(kp.getSeed()) };
}

/** Stores the seed readable by the owner only. */
export async function saveSeed(dataDir: string, seed: string): Promise<void> {
  await mkdir(join(dataDir, "edge"), { recursive: true, mode: 0o700 });
  await chmod(join(dataDir, "edge"), 0o700);
  await writePrivate(seedPath(dataDir), `${seed}\n`);
}

/** The stored seed if it is the one of `nkey`; undefined otherwise. */
export async function readSeed(dataDir: string, nkey: string): Promise<string | undefined> {
  const seed = (await readFile(seedPath(dataDir), "utf8").catch(() => "")).trim();
  try {
    return seed && fromSeed(new TextEncoder().encode(seed)).getPublicKey() === nkey ? seed : undefined;
  } catch {
    return undefined;
  }
}

/** Who asks: the edge, its Ops API and the CA it pins. */
export interface StandingQuestion {
  edge: string;
  opsUrl: string;
  seed: string;
  /** The hub's CA (PEM); the system's CAs without it. */
  ca: string | undefined;
  timeoutMs?: number;
}

/**
 * Asks the Ops hub what it says of this edge's identity, signing a fresh nonce with the seed (the seed
 * is not sent). Undefined when the hub cannot be reached or does not answer as expected.
 */
export async function askStanding(q: StandingQuestion): Promise<EdgeStanding | undefined> {
  const kp = fromSeed(new TextEncoder().encode(q.seed));
  const nonce = randomBytes(18).toString("base64url");
  const body: EdgeStatusRequest = {
    nkey: kp.getPublicKey(), nonce, signature: Buffer.from(kp.sign(new TextEncoder().encode(edgeStatusMessage(q.edge, nonce)))).toString("base64url"),
  };
  try {
    const res = await (q.ca ? fetchTrusting(q.ca) : fetch)(`${q.opsUrl}/edges/${q.edge}/status`, {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), signal: AbortSignal.timeout(q.timeoutMs ?? 10_000),
    });
    const reply = await res.json() as Partial<EdgeStatusReply>;
    return res.ok && ["joined", "lapsed", "revoked"].includes(reply.state as string) ? reply.state : undefined;
  } catch {
    return undefined;
  }
}
