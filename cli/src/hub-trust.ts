// How an edge comes to trust its Ops hub: the bundle pins the hub's CA by its SHA-256; the edge finds
// that CA in the chain the Ops API presents, and from then on checks every TLS connection to the hub
// (the join, the leaf link) against it. Nothing is ever sent to the hub in clear.
import { X509Certificate, createHash } from "node:crypto";
import { chmod, mkdir, readFile } from "node:fs/promises";
import { isIP } from "node:net";
import { join } from "node:path";
import { connect, type PeerCertificate, type DetailedPeerCertificate } from "node:tls";
import { FerryError, type EdgeBundle } from "@ferry/contracts";
import { normalFingerprint, writePrivate } from "@ferry/natsd";

/** Where an edge keeps its hub's CA certificate: `<data>/edge/hub-ca.pem` (0600). */
export function hubCaPath(dataDir: string): string {
  return join(dataDir, "edge", "hub-ca.pem");
}

function hostAndPort(hostPort: string): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?(?::(\d+))?$/.exec(hostPort);
  return { host: m?.[1] ?? hostPort, port: Number(m?.[2] ?? 443) };
}

/** Every certificate of the chain a server presented, leaf first. */
function chainOf(peer: DetailedPeerCertificate): PeerCertificate[] {
  const out: PeerCertificate[] = [];
  for (let c: DetailedPeerCertificate | undefined = peer; c?.raw && !out.includes(c); c = c.issuerCertificate) out.push(c);
  return out;
}

/** The chain the server at `hostPort` presents, read without trusting it yet (the pin decides). */
function presentedChain(hostPort: string, timeoutMs: number): Promise<PeerCertificate[]> {
  const { host, port } = hostAndPort(hostPort);
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, ...(isIP(host) ? {} : { servername: host }), rejectUnauthorized: false, minVersion: "TLSv1.2", timeout: timeoutMs });
    socket.once("secureConnect", () => {
      resolve(chainOf(socket.getPeerCertificate(true)));
      socket.destroy();
    });
    socket.once("timeout", () => socket.destroy(new Error(`no TLS handshake within ${timeoutMs} ms`)));
    socket.once("error", reject);
  });
}

/**
 * The hub's CA certificate (PEM) whose SHA-256 is `pin`, from the chain the Ops API at `hostPort` presents.
 * Throws FerryError `untrusted_hub` when the chain holds no such CA, `unavailable` when it cannot be reached.
 */
export async function fetchPinnedCa(hostPort: string, pin: string, timeoutMs = 10_000): Promise<string> {
  let chain: PeerCertificate[];
  try {
    chain = await presentedChain(hostPort, timeoutMs);
  } catch (err) {
    throw new FerryError("unavailable", `cannot reach the Ops hub over TLS at ${hostPort}: ${(err as Error).message}`, { cause: err });
  }
  const want = normalFingerprint(pin);
  const found = chain.find((c) => createHash("sha256").update(c.raw).digest("hex") === want);
  if (!found) {
    const seen = chain.map((c) => `${c.subject?.CN ?? "?"} (${createHash("sha256").update(c.raw).digest("hex")})`).join(", ");
    throw new FerryError("untrusted_hub", `the Ops hub at ${hostPort} did not prove it is the hub this bundle names: its TLS chain [${seen}] holds no CA with SHA-256 ${want} (OPSCENTER_CA_SHA256); not joining. Check OPSCENTER_HOST, or ask Ops for a new bundle if the hub's CA changed`);
  }
  return new X509Certificate(found.raw).toString();
}

/**
 * The hub's CA for this bundle: the stored one if it still matches the pin, else fetched from the hub
 * (and stored). Undefined when the bundle pins none: the hub's certificate must then be one the system trusts.
 */
export async function hubCa(dataDir: string, bundle: EdgeBundle): Promise<string | undefined> {
  const pin = bundle.OPSCENTER_CA_SHA256;
  if (!pin) return undefined;
  const stored = await readFile(hubCaPath(dataDir), "utf8").catch(() => undefined);
  if (stored && createHash("sha256").update(new X509Certificate(stored).raw).digest("hex") === normalFingerprint(pin)) return stored;
  const ca = await fetchPinnedCa(bundle.OPSCENTER_HOST, pin);
  await mkdir(join(dataDir, "edge"), { recursive: true, mode: 0o700 });
  await chmod(join(dataDir, "edge"), 0o700);
  await writePrivate(hubCaPath(dataDir), ca);
  return ca;
}
