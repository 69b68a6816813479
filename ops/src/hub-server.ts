import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { HubDomain } from "@ferry/contracts";
import { startNatsServer, type NatsServer, type NatsUser, type TlsFiles } from "@ferry/natsd";
import { reloadConfig, type SystemAccess } from "./hub-system.js";
import { newPassword, passwordHash } from "./secrets.js";

/** How to run the hub's nats-server. */
export interface HubServerOptions {
  /** Folder of the hub's store, config and secrets. */
  dataDir: string;
  /** Client port (0: a free one). Default 4222. */
  port?: number;
  host?: string;
  /** Leaf node port edges link to (0: a free one). Default 7422. */
  leafPort?: number;
  /** TLS on the client and leaf ports, always (clients start TLS first on the client port). */
  tls: TlsFiles;
  /** nats-server `sync_interval`: "always" (each write on disk before its ack) or a duration. Default "always". */
  syncInterval?: string;
  log?: (line: string) => void;
}

/** The user Ops itself (and the hub's logger and deployer) connect as. */
export interface HubLogin {
  user: string;
  pass: string;
}

/**
 * The hub's nats-server: JetStream domain `hub`, a leaf node listener, and one user per joined edge.
 * A reload refuses a removed user's new connections but keeps its open leaf link (2.9 and 2.15 alike),
 * so a revocation also closes the leaf links, as the system account may: the others come straight back.
 */
export class HubServer {
  readonly login: HubLogin;
  readonly #o: HubServerOptions;
  readonly #server: NatsServer;
  readonly #system: HubLogin;
  #users: NatsUser[];
  #opsUser: NatsUser;

  private constructor(o: HubServerOptions, server: NatsServer, logins: { ops: HubLogin; system: HubLogin }, opsUser: NatsUser, users: NatsUser[]) {
    this.#o = o;
    this.#server = server;
    this.login = logins.ops;
    this.#system = logins.system;
    this.#opsUser = opsUser;
    this.#users = users;
  }

  /** Starts the hub with the edge users it had when it last ran (the registry then corrects them). */
  static async start(o: HubServerOptions): Promise<HubServer> {
    await mkdir(o.dataDir, { recursive: true, mode: 0o700 });
    const login = await savedLogin(o.dataDir, "ops-login.json", "ferry-ops");
    const system = await savedLogin(o.dataDir, "system-login.json", "ferry-system");
    const opsUser = { user: login.user, password: await passwordHash(login.pass) };
    const systemUser = { user: system.user, password: await passwordHash(system.pass) };
    const users = await readUsers(o.dataDir);
    const server = await spawn(o, [opsUser, ...users], [systemUser]);
    return new HubServer(o, server, { ops: login, system }, opsUser, users);
  }

  get url(): string {
    return this.#server.url;
  }

  get leafPort(): number {
    return this.#server.leafPort!;
  }

  /** Lets these edge users connect from now on (new users need no restart). */
  async allow(users: NatsUser[]): Promise<void> {
    await this.#setUsers(users, false);
  }

  /**
   * Allows only these edge users and closes every leaf link, so a removed user's link cannot stay up
   * (a leaf link does not say which user it logged in as). The others relink within a second or two.
   */
  async revokeTo(users: NatsUser[]): Promise<void> {
    await this.#setUsers(users, true);
  }

  async #setUsers(users: NatsUser[], kickLeafs: boolean): Promise<void> {
    this.#users = users;
    await writeUsers(this.#o.dataDir, users);
    await this.#server.writeUsers([this.#opsUser, ...users]);
    await reloadConfig(this.#systemAccess(), kickLeafs);
  }

  #systemAccess(): SystemAccess {
    return { url: this.#server.url, login: this.#system, tls: { caFile: this.#o.tls.caFile, handshakeFirst: true } };
  }

  get users(): readonly NatsUser[] {
    return this.#users;
  }

  stop(): Promise<void> {
    return this.#server.stop();
  }
}

function spawn(o: HubServerOptions, users: NatsUser[], systemUsers: NatsUser[]): Promise<NatsServer> {
  return startNatsServer({
    dataDir: join(o.dataDir, "nats"),
    port: o.port ?? 4222,
    host: o.host ?? "127.0.0.1",
    leafPort: o.leafPort ?? 7422,
    jetstreamDomain: HubDomain,
    serverName: "ferry-hub",
    syncInterval: o.syncInterval ?? "always",
    users,
    systemUsers,
    // Only Ferry's own hub services use the client port: nothing is said in clear there, not even INFO.
    tls: { ...o.tls, handshakeFirst: true },
    log: o.log,
  });
}

/** A login of the hub's own (0600 in its folder; the server's config holds only its bcrypt hash). */
async function savedLogin(dir: string, name: string, user: string): Promise<HubLogin> {
  const file = join(dir, name);
  try {
    return JSON.parse(await readFile(file, "utf8")) as HubLogin;
  } catch {
    const login = { user, pass: newPassword() };
    await writeFile(file, JSON.stringify(login), { mode: 0o600 });
    await chmod(file, 0o600);
    return login;
  }
}

async function readUsers(dir: string): Promise<NatsUser[]> {
  try {
    return JSON.parse(await readFile(join(dir, "edge-users.json"), "utf8")) as NatsUser[];
  } catch {
    return [];
  }
}

async function writeUsers(dir: string, users: NatsUser[]): Promise<void> {
  await writeFile(join(dir, "edge-users.json"), JSON.stringify(users), { mode: 0o600 });
}
