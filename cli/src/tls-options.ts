import type { TlsFiles } from "@ferry/natsd";
import { StartRefused } from "./start-wait.js";

/** --tls-cert, --tls-key, --tls-ca as the option table gives them. */
export interface TlsFlags {
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
  tlsCa?: string | undefined;
}

/** The operator's certificate and key, when given (both or neither); throws StartRefused for one alone. */
export function givenCert(o: TlsFlags): { certFile: string; keyFile: string } | undefined {
  if (!o.tlsCert && !o.tlsKey) return undefined;
  if (!o.tlsCert || !o.tlsKey) throw new StartRefused("--tls-cert and --tls-key go together (FERRY_TLS_CERT, FERRY_TLS_KEY)");
  return { certFile: o.tlsCert, keyFile: o.tlsKey };
}

/**
 * The operator's certificate, key and CA, where peers must be able to check the certificate against a
 * CA Ferry hands them (the hub's edges, the site's services, cluster routes): all three or none.
 */
export function givenTlsFiles(o: TlsFlags, what: string): TlsFiles | undefined {
  const cert = givenCert(o);
  if (!cert) {
    if (o.tlsCa) throw new StartRefused(`--tls-ca is given without --tls-cert and --tls-key (${what})`);
    return undefined;
  }
  if (!o.tlsCa) throw new StartRefused(`${what} needs --tls-ca (FERRY_TLS_CA) with --tls-cert: the CA that signed it, which its peers check it against`);
  return { ...cert, caFile: o.tlsCa };
}
