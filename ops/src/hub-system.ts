import { connect, type NatsConnection, type TlsOptions } from "@nats-io/transport-node";

/** The part of a `$SYS.REQ.SERVER.PING.LEAFZ` answer used here. */
interface Leafz {
  server: { id: string };
  data: { leafs?: { id: number; name: string }[] };
}

/**
 * Applies the server's rewritten config and then closes every leaf node link, as the server's system
 * account (`$SYS.REQ.SERVER.<id>.RELOAD` and `.KICK`, nats-server 2.10+). The reload request answers once
 * the config is in force (a SIGHUP does not say when), so no kicked link can relink with a removed user.
 * Resolves to the names of the servers whose links were closed.
 */
export async function reloadAndKickLeafLinks(url: string, system: { user: string; pass: string }, tls: TlsOptions): Promise<string[]> {
  const nc = await connect({ servers: url, user: system.user, pass: system.pass, tls, name: "ferry-ops-system" });
  try {
    const leafz = await ask<Leafz>(nc, "$SYS.REQ.SERVER.PING.LEAFZ");
    const id = leafz.server.id;
    await ask(nc, `$SYS.REQ.SERVER.${id}.RELOAD`);
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
