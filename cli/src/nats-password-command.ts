import { NatsRoles, type NatsRole } from "@ferry/runtime";
import type { NatsPasswordOptions } from "./options.js";
import { knownPassword, usersFile } from "./site-users.js";

/**
 * `ferry nats-password ROLE`: the role's NATS password on this site, for a device or an operator — derived
 * from FERRY_NATS_SECRET when it is set, else read from `<data>/nats/users.json` (never made here).
 */
export async function natsPasswordCommand(o: NatsPasswordOptions): Promise<number> {
  const role = o.args[0] as NatsRole | undefined;
  if (!role || o.args.length !== 1 || !NatsRoles.includes(role)) {
    process.stderr.write(`ferry: usage: ferry nats-password ROLE (one of ${NatsRoles.join(", ")})\n`);
    return 2;
  }
  const password = await knownPassword(o, role);
  if (!password) {
    process.stderr.write(`ferry: no FERRY_NATS_SECRET and no ${role} password in ${usersFile(o.data)} (does this site require credentials?)\n`);
    return 1;
  }
  process.stdout.write(`${password}\n`);
  return 0;
}
