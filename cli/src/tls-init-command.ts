// `ferry tls init`: a CA and a server certificate for a cluster's servers (compose.yaml's `certs`
// service), made by Ferry's own certificate module. The CA's key stays in --ca-dir; --out gets what
// servers and clients need: ca.pem, server.pem, server-key.pem (each 0600).
import { X509Certificate } from "node:crypto";
import { mkdir, readFile, rm } from "node:fs/promises";
import { isIP } from "node:net";
import { join, resolve } from "node:path";
import { ensureOwnTls, writePrivate } from "@ferry/natsd";
import type { TlsInitOptions } from "./options.js";

/** The CA's name in the certificates this command makes. */
const CaName = "Ferry cluster CA";

/** A host a certificate may name: a DNS name (letters, digits, dots, dashes) or an IP address. */
function checkHosts(hosts: readonly string[]): void {
  if (hosts.length === 0) throw new Error("--hosts names no host");
  for (const h of hosts) {
    if (!isIP(h) && !/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(h)) {
      throw new Error(`--hosts: ${JSON.stringify(h)} is neither a host name nor an IP address`);
    }
  }
}

/**
 * Whether the certificate in `pem` names exactly `hosts`: ensureOwnTls only remakes one that lacks a
 * host, and a name dropped from --hosts must drop from the certificate too.
 */
export function namesExactly(pem: string, hosts: readonly string[]): boolean {
  const c = new X509Certificate(pem);
  const names = (c.subjectAltName ?? "").split(", ").filter(Boolean);
  const wanted = new Set(hosts);
  if (names.length !== wanted.size) return false;
  return [...wanted].every((h) => (isIP(h) ? c.checkIP(h) : c.checkHost(h, { wildcards: false })) !== undefined);
}

async function readOr(file: string): Promise<string | undefined> {
  return readFile(file, "utf8").catch(() => undefined);
}

/** Copies `from` to `to` as 0600, in one step: a server starting meanwhile never reads half a file. */
async function copyPrivate(from: string, to: string): Promise<void> {
  if (resolve(from) === resolve(to)) return;
  await writePrivate(to, await readFile(from, "utf8"));
}

/** Runs `ferry tls init`; resolves to the exit code. The fingerprint alone goes to stdout. */
export async function tlsInitCommand(o: TlsInitOptions): Promise<number> {
  checkHosts(o.tlsHosts);
  const caDir = o.tlsCaDir ?? o.tlsOut;
  const serverFile = join(caDir, "server.pem");
  const before = await readOr(serverFile);
  // A certificate for other hosts is made again (by the same CA): the CA itself is never replaced here.
  if (before && !namesExactly(before, o.tlsHosts)) await rm(serverFile);
  const hadCa = (await readOr(join(caDir, "ca.pem"))) !== undefined;
  const own = await ensureOwnTls(caDir, CaName, o.tlsHosts);
  await mkdir(o.tlsOut, { recursive: true, mode: 0o700 });
  await copyPrivate(own.caFile, join(o.tlsOut, "ca.pem"));
  await copyPrivate(own.certFile, join(o.tlsOut, "server.pem"));
  await copyPrivate(own.keyFile, join(o.tlsOut, "server-key.pem"));
  const remade = (await readFile(serverFile, "utf8")) !== before;
  process.stderr.write([
    `${hadCa ? "kept the CA" : "made a CA"} in ${caDir}; ${remade ? "made a server certificate" : "kept the server certificate"} for ${o.tlsHosts.join(", ")}`,
    `wrote ${join(o.tlsOut, "ca.pem")}, server.pem, server-key.pem (0600); clients trust ca.pem (FERRY_NATS_CA), its SHA-256 is:`,
    "",
  ].join("\n"));
  process.stdout.write(`${own.fingerprint}\n`);
  return 0;
}
