import { readFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { caFingerprint, ensureOwnTls, type TlsFiles } from "@ferry/natsd";

/** The hub's TLS: its files, the CA's PEM (what edges and Ops' own clients trust) and its fingerprint. */
export interface HubTls {
  files: TlsFiles;
  ca: string;
  fingerprint: string;
  /** The certificate the Ops API presents: the server's, then the CA (so an edge can find the CA it pins). */
  chain: string;
  key: string;
}

/** The names a hub's own server certificate carries: loopback, this host, and how edges reach it. */
export function hubHosts(publicHost: string | undefined): string[] {
  const extra = publicHost ? [publicHost.replace(/^\[(.*)\](:\d+)?$/, "$1").replace(/:\d+$/, "")] : [];
  return ["localhost", "127.0.0.1", "::1", hostname(), ...extra];
}

/**
 * The operator's certificate, key and CA when given; otherwise the hub's own CA and certificate in
 * `<dataDir>/tls` (made on first start; the CA's key never leaves that folder).
 */
export async function hubTls(dataDir: string, given: TlsFiles | undefined, publicHost: string | undefined): Promise<HubTls> {
  const files = given ?? await ensureOwnTls(join(dataDir, "tls"), "Ferry Ops hub CA", hubHosts(publicHost));
  const [cert, key, ca] = await Promise.all([files.certFile, files.keyFile, files.caFile].map((f) => readFile(f, "utf8")));
  return { files, ca: ca!, fingerprint: caFingerprint(ca!), chain: cert!.includes(ca!.trim()) ? cert! : `${cert!.trim()}\n${ca!.trim()}\n`, key: key! };
}
