import { connect, type NatsConnection, type TlsOptions } from "@nats-io/transport-node";

/** The part of a `$SYS.REQ.SERVER.PING.LEAFZ` answer used here. */
interface Leafz {
  server: { id: string };
  data: { leafs?: { id: number; name: string }[] };
}

/** The hub's system-account login and how to reach it (TLS, handshake first). */
export interface SystemAccess {
  url: string;
  login: { user: string; pass: string };
  tls: TlsOptions;
}

/**
 * Applies the server's rewritten config as its system account (`$SYS.REQ.SERVER.<id>.RELOAD`, nats-server
 * 2.10+), which answers once the config is in force (a SIGHUP does not say when); with `kickLeafs`, then
 * closes every leaf node link, so no link stays up, or comes back, with a removed user. Resolves to the
 * names of the servers whose links were closed.
 */
export async function reloadConfig(access: SystemAccess, kickLeafs: boolean): Promise<string[]> {
  const nc = await connect({ servers: access.url, user: access.login.user, pass: access.login.pass, tls: access.tls, name: "ferry-ops-system" });
  try {
    const id = (await ask<Leafz>(nc, "$SYS.REQ.SERVER.PING.LEAFZ")).server.id;
    await ask(nc, `$SYS.REQ.SERVER.${id}.RELOAD`);
    if (!kickLeafs) return [];
    const kicked: string[] = [];
    for (const leaf of (await ask<Leafz>(nc, `$SYS.REQ.SERVER.${id}.LEAFZ`)).data.leafs ?? []) {
      await ask(nc, `$SYS.REQ.SERVER.${id}.KICK`, { cid: leaf.id });
      kicked.push(leaf.name);
    }
    return kicked;
  } finally {
    await nc.close();
  }
}

/** One system request; an `error` in the answer is thrown. */
async function ask<T>(nc: NatsConnection, subject: string, body: unknown = {}): Promise<T> {
  const answer = (await nc.request(subject, JSON.stringify(body), { timeout: 5000 })).json<T & { error?: { description?: string } }>();
  if (answer.error) throw new Error(`${subject}: ${answer.error.description ?? JSON.stringify(answer.error)}`);
  return answer;
}
