import { readFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { ensureOwnTls, type TlsFiles } from "@ferry/natsd";
import { StartRefused } from "./start-wait.js";
import { isLoopback } from "./site-users.js";
import { givenCert, givenTlsFiles, type TlsFlags } from "./tls-options.js";

/** What choosing the site's TLS reads. */
type SiteTlsOptions = TlsFlags & { data: string; natsHost: string; clusterPort: number };

/**
 * TLS of the site's spawned nats-server (client port and cluster routes): the operator's files when
 * --tls-ca is given; else, when --nats-host is not loopback, the site's own CA and certificate in
 * `<data>/nats/tls` (0600). A cluster beyond loopback needs the operator's (one CA for all its servers),
 * and is refused rather than routed in clear. Undefined: a loopback server, plain.
 */
export async function siteNatsTls(o: SiteTlsOptions): Promise<TlsFiles | undefined> {
  if (o.tlsCa) return givenTlsFiles(o, "the site's nats-server");
  if (isLoopback(o.natsHost)) return undefined;
  if (o.clusterPort > 0) {
    throw new StartRefused(`a cluster on --nats-host ${o.natsHost} routes over the network: give every server --tls-cert, --tls-key and --tls-ca (certificates of one CA, for both client and server use) so routes use TLS`);
  }
  const hosts = ["localhost", "127.0.0.1", "::1", hostname(), ...(o.natsHost === "0.0.0.0" || o.natsHost === "::" ? [] : [o.natsHost])];
  return ensureOwnTls(join(o.data, "nats", "tls"), "Ferry site CA", hosts);
}

/** The gateway's HTTPS key and certificate (PEM text) when --tls-cert and --tls-key are given. */
export async function gatewayHttps(o: TlsFlags): Promise<{ key: string; cert: string } | undefined> {
  const files = givenCert(o);
  if (!files) return undefined;
  return { key: await readFile(files.keyFile, "utf8"), cert: await readFile(files.certFile, "utf8") };
}
