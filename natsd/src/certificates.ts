// Making and keeping Ferry's own TLS certificates: a CA per hub (or site) and a server certificate it
// signs. The one place certificates are made; ops, the CLI and the tests all use it.
import { X509Certificate as NodeCertificate, createHash, randomBytes, webcrypto } from "node:crypto";
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import { join } from "node:path";
// @peculiar/x509 resolves its parts through tsyringe, which needs the Reflect metadata API first.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

/** A certificate and its private key, PEM. */
export interface CertPair {
  cert: string;
  key: string;
}

/** A TLS server's files: its certificate and key, and the CA its peers are checked against (and trust). */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
  caFile: string;
}

/** ECDSA P-256: small keys, made in a millisecond, accepted by nats-server, Node and browsers. */
const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY_MS = 86_400_000;
// Node's WebCrypto, not a global one (Node 20 has it, but the DOM types are not in this build).
x509.cryptoProvider.set(webcrypto as never);

async function newKeys(): Promise<webcrypto.CryptoKeyPair> {
  return webcrypto.subtle.generateKey(alg, true, ["sign", "verify"]) as Promise<webcrypto.CryptoKeyPair>;
}

/** PEM ending in a newline, so that files and chains can be put one after another. */
function line(pem: string): string {
  return pem.endsWith("\n") ? pem : `${pem}\n`;
}

async function keyPem(key: webcrypto.CryptoKey): Promise<string> {
  return line(x509.PemConverter.encode(await webcrypto.subtle.exportKey("pkcs8", key), "PRIVATE KEY"));
}

/** A new self-signed CA (10 years) that may sign server certificates only. */
export async function makeCa(commonName: string): Promise<CertPair> {
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomBytes(16).toString("hex").replace(/^[89a-f]/, "1"),
    name: `CN=${commonName}`,
    notBefore: new Date(Date.now() - DAY_MS),
    notAfter: new Date(Date.now() + 3650 * DAY_MS),
    keys,
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: line(cert.toString("pem")), key: await keyPem(keys.privateKey) };
}

/** The SANs of a server certificate: IP addresses as IPs, the rest as DNS names. */
function altNames(hosts: readonly string[]): x509.JsonGeneralName[] {
  return [...new Set(hosts.filter(Boolean))].map((h) => (isIP(h) ? { type: "ip", value: h } : { type: "dns", value: h }));
}

/**
 * A server certificate (1 year) for `hosts`, signed by `ca`. It also allows client authentication:
 * cluster routes present it to each other (`verify: true`).
 */
export async function makeServerCert(ca: CertPair, hosts: readonly string[]): Promise<CertPair> {
  const caCert = new x509.X509Certificate(ca.cert);
  const caKey = await webcrypto.subtle.importKey("pkcs8", x509.PemConverter.decodeFirst(ca.key), alg, false, ["sign"]);
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomBytes(16).toString("hex").replace(/^[89a-f]/, "1"),
    subject: `CN=${hosts[0] ?? "localhost"}`,
    issuer: caCert.subject,
    notBefore: new Date(Date.now() - DAY_MS),
    notAfter: new Date(Date.now() + 365 * DAY_MS),
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension(altNames(hosts)),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return { cert: line(cert.toString("pem")), key: await keyPem(keys.privateKey) };
}

/** SHA-256 of the first certificate in `pem` (its DER), lowercase hex without separators. */
export function caFingerprint(pem: string): string {
  return createHash("sha256").update(new NodeCertificate(pem).raw).digest("hex");
}

/** A fingerprint as written anywhere (`AB:CD:…`, upper or lower case) in the form {@link caFingerprint} gives. */
export function normalFingerprint(text: string): string {
  return text.replace(/[^0-9a-f]/gi, "").toLowerCase();
}

/** Writes a secret or a certificate readable by the owner only, replacing any old one in one step. */
export async function writePrivate(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
}

async function readPair(certFile: string, keyFile: string): Promise<CertPair | undefined> {
  try {
    return { cert: await readFile(certFile, "utf8"), key: await readFile(keyFile, "utf8") };
  } catch {
    return undefined;
  }
}

/** Whether a server certificate is still good for a month and names every host. */
function serverCertFits(pem: string, caPem: string, hosts: readonly string[]): boolean {
  const c = new NodeCertificate(pem);
  if (new Date(c.validTo).getTime() - Date.now() < 30 * DAY_MS) return false;
  if (!c.verify(new NodeCertificate(caPem).publicKey)) return false;
  return hosts.every((h) => (isIP(h) ? c.checkIP(h) : c.checkHost(h, { wildcards: false })) !== undefined);
}

/** Ferry's own TLS files in a folder, and the CA's fingerprint. */
export interface OwnTls extends TlsFiles {
  fingerprint: string;
}

/**
 * The CA and server certificate kept in `dir` (`ca.pem`, `ca-key.pem`, `server.pem`, `server-key.pem`,
 * each 0600): made on first use; the server certificate is made again (by the same CA) when it lacks
 * one of `hosts` or has less than a month left. The CA's key stays in `dir`.
 */
export async function ensureOwnTls(dir: string, caName: string, hosts: readonly string[]): Promise<OwnTls> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const files = { caFile: join(dir, "ca.pem"), caKeyFile: join(dir, "ca-key.pem"), certFile: join(dir, "server.pem"), keyFile: join(dir, "server-key.pem") };
  let ca = await readPair(files.caFile, files.caKeyFile);
  if (!ca) {
    ca = await makeCa(caName);
    await writePrivate(files.caKeyFile, ca.key);
    await writePrivate(files.caFile, ca.cert);
  }
  const server = await readPair(files.certFile, files.keyFile);
  if (!server || !serverCertFits(server.cert, ca.cert, hosts)) {
    const made = await makeServerCert(ca, hosts);
    await writePrivate(files.keyFile, made.key);
    await writePrivate(files.certFile, made.cert);
  }
  return { caFile: files.caFile, certFile: files.certFile, keyFile: files.keyFile, fingerprint: caFingerprint(ca.cert) };
}
