import { setTimeout as sleep } from "node:timers/promises";
import type { NatsServer } from "./nats-server.js";

/** Starts the server (again) on `port`, with the same store and config. */
export type ServerSpawner = (port: number) => Promise<NatsServer>;

/** What the supervisor tells its owner. */
export interface SupervisorEvents {
  /** The server exited on its own (not by `stop()` or `replace()`). */
  exited?(info: { code: number | null; signal: NodeJS.Signals | null; pid: number | undefined }): void;
  /** It runs again after an exit; `downMs` from the exit to listening. */
  restarted?(server: NatsServer, info: { restarts: number; downMs: number }): void;
  /** A start after an exit failed; another follows after `retryInMs`. */
  startFailed?(err: Error, info: { attempt: number; retryInMs: number }): void;
  /** Starts failed `attempts` times in a row: the supervisor stopped trying. */
  gaveUp?(err: Error, info: { attempts: number }): void;
}

/** Limits of the supervisor. */
export interface SupervisorOptions {
  /** Pauses between failed starts, ms; the last repeats until `maxAttempts`. Default 0, 250, 500, 1000, 2000, 4000. */
  backoffMs?: readonly number[];
  /** Starts in a row that may fail before it gives up. Default 8 (about 20 s). */
  maxAttempts?: number;
}

/** State of a supervised server. */
export type SupervisedState = "running" | "restarting" | "failed" | "stopped";

const BACKOFF_MS = [0, 250, 500, 1000, 2000, 4000] as const;

/**
 * Keeps a spawned nats-server running: when it exits on its own (a crash, `kill -9`, the OOM killer), it
 * is started again at once on the same port and store, with back-off between failed starts, and given
 * up on loudly after `maxAttempts` failures in a row. JetStream recovers its store on start (every
 * acknowledged write was synced first); clients reconnect on their own.
 */
export class NatsSupervisor {
  readonly #spawn: ServerSpawner;
  readonly #events: SupervisorEvents;
  readonly #backoff: readonly number[];
  readonly #maxAttempts: number;
  #server: NatsServer;
  #state: SupervisedState = "running";
  #restarts = 0;
  #recovering: Promise<void> | undefined;
  /** Cuts a back-off pause short when the supervisor stops. */
  readonly #stopping = new AbortController();

  private constructor(server: NatsServer, spawn: ServerSpawner, events: SupervisorEvents, o: SupervisorOptions) {
    this.#server = server;
    this.#spawn = spawn;
    this.#events = events;
    this.#backoff = o.backoffMs?.length ? o.backoffMs : BACKOFF_MS;
    this.#maxAttempts = o.maxAttempts ?? 8;
    this.#watch(server);
  }

  /** Starts the server on `port` (0: a free one, kept for restarts) and supervises it. */
  static async start(spawn: ServerSpawner, port: number, events: SupervisorEvents = {}, o: SupervisorOptions = {}): Promise<NatsSupervisor> {
    return new NatsSupervisor(await spawn(port), spawn, events, o);
  }

  /** The server now (a restart replaces it; the URL and port stay). */
  get server(): NatsServer {
    return this.#server;
  }

  get url(): string {
    return this.#server.url;
  }

  get port(): number {
    return this.#server.port;
  }

  get state(): SupervisedState {
    return this.#state;
  }

  /** Restarts after an exit so far. */
  get restarts(): number {
    return this.#restarts;
  }

  /** Stops the server and starts it again on purpose (a new leaf remote): not counted as a restart. */
  async replace(): Promise<void> {
    await this.#recovering;
    if (this.#state !== "running") return;
    const old = this.#server;
    this.#state = "restarting";
    await old.stop();
    this.#server = await this.#spawn(old.port);
    this.#state = "running";
    this.#watch(this.#server);
  }

  /** Stops supervising and stops the server. */
  async stop(): Promise<void> {
    this.#state = "stopped";
    this.#stopping.abort();
    await this.#recovering?.catch(() => undefined);
    await this.#server.stop();
  }

  // A method, not an inline comparison: the state changes across the awaits in #recover.
  #isStopped(): boolean {
    return this.#state === "stopped";
  }

  #pause(failures: number): number {
    return this.#backoff[Math.min(failures, this.#backoff.length - 1)]!;
  }

  #watch(server: NatsServer): void {
    server.process.once("exit", (code, signal) => {
      if (this.#server !== server || this.#state !== "running") return;
      this.#state = "restarting";
      this.#events.exited?.({ code, signal, pid: server.process.pid });
      this.#recovering = this.#recover(server.port, Date.now()).finally(() => { this.#recovering = undefined; });
    });
  }

  async #recover(port: number, since: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      await sleep(this.#pause(attempt - 1), undefined, { signal: this.#stopping.signal }).catch(() => undefined);
      if (this.#isStopped()) return;
      try {
        const server = await this.#spawn(port);
        if (this.#isStopped()) return void (await server.stop());
        this.#server = server;
        this.#state = "running";
        this.#restarts++;
        this.#watch(server);
        this.#events.restarted?.(server, { restarts: this.#restarts, downMs: Date.now() - since });
        return;
      } catch (err) {
        if (attempt >= this.#maxAttempts) {
          this.#state = "failed";
          this.#events.gaveUp?.(err as Error, { attempts: attempt });
          return;
        }
        this.#events.startFailed?.(err as Error, { attempt, retryInMs: this.#pause(attempt) });
      }
    }
  }
}
