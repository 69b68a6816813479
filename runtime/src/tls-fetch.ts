import { Agent, fetch as undiciFetch } from "undici";

/**
 * A `fetch` that trusts only certificates signed by `ca` (PEM), over TLS 1.2 or newer: for calling
 * Ferry's own HTTPS servers (the Ops API, a site gateway), whose CA is not a public one.
 */
export function fetchTrusting(ca: string): typeof fetch {
  const dispatcher = new Agent({ connect: { ca, minVersion: "TLSv1.2" } });
  // undici's own fetch: Node 20's built-in one bundles an older undici that may not take this Agent.
  return ((input: string | URL, init?: RequestInit) => undiciFetch(input, { ...(init as object), dispatcher } as never)) as unknown as typeof fetch;
}
