// An edge's identity is a user nkey it made itself: the hub keeps only the public key, and an edge
// proves it is that edge by signing with the seed it never sends (the leaf link's nonce, or a status question).
import { fromPublic } from "@nats-io/nkeys";
import { FerryError, edgeStatusMessage, type EdgeStanding, type EdgeStatusRequest } from "@ferry/contracts";
import type { EdgeRecord } from "./edge-registry.js";

/** Whether `key` is a well-formed public user nkey (`U` + base32, with a valid checksum). */
export function isUserNkey(key: unknown): key is string {
  if (typeof key !== "string" || !/^U[A-Z2-7]{55}$/.test(key)) return false;
  try {
    fromPublic(key);
    return true;
  } catch {
    return false;
  }
}

/** The public key a join body names; throws `bad_request` for anything but a public user nkey. */
export function joinNkey(key: unknown): string {
  if (!isUserNkey(key)) throw new FerryError("bad_request", "nkey must be the public key (U...) of a user nkey the edge made for this join (Ferry 0.1 edges sent none: update the edge)");
  return key;
}

/**
 * Checks a status question (`POST /edges/{name}/status`) and returns the key that signed it. Throws
 * `bad_request` when malformed and `unauthorized` when the signature is not that key's.
 */
export function signedBy(name: string, body: Partial<EdgeStatusRequest> | undefined): string {
  const { nkey, nonce, signature } = body ?? {};
  if (!isUserNkey(nkey) || typeof nonce !== "string" || nonce.length < 16 || nonce.length > 128 || typeof signature !== "string") {
    throw new FerryError("bad_request", "body must be {\"nkey\": \"U...\", \"nonce\": 16 to 128 characters, \"signature\": base64url}");
  }
  const message = new TextEncoder().encode(edgeStatusMessage(name, nonce));
  if (!fromPublic(nkey).verify(message, Buffer.from(signature, "base64url"))) throw new FerryError("unauthorized", "the signature is not this nkey's");
  return nkey;
}

/**
 * What the hub says of identity `nkey` for edge `record`: its state while it is the edge's current
 * identity, else `revoked` (the edge was removed or re-added, or the key was never this edge's: the
 * answer is the same, so it tells a stranger nothing).
 */
export function standingOf(record: EdgeRecord | undefined, nkey: string): EdgeStanding {
  if (!record || record.nkey !== nkey) return "revoked";
  return record.state === "joined" ? "joined" : record.state === "lapsed" ? "lapsed" : "revoked";
}
