import type { NatsConnection } from "@nats-io/transport-node";
import { watchConnection } from "@ferry/runtime";
import { FerryClientError } from "./errors.js";

type LinkEvent = "up" | "down" | "closed";

/**
 * Whether the connection to the site is up, from the connection's `disconnect` / `reconnect`
 * events. nats.js discards what it buffered while disconnected each time it dials again, so the
 * client holds messages itself while the link is down and sends them once it is back.
 */
export class LinkState {
  #up = true;
  #closed = false;
  #downSince: Date | undefined;
  readonly #listeners = new Set<(event: LinkEvent) => void>();

  /** Follows `nc`'s status events until it closes. */
  static watch(nc: NatsConnection): LinkState {
    const link = new LinkState();
    watchConnection(nc, (e) => link.#set(e === "disconnect" ? "down" : e === "reconnect" ? "up" : "closed"));
    return link;
  }

  /** Whether the connection is up now. */
  get up(): boolean {
    return this.#up && !this.#closed;
  }

  /** Whether the connection is closed for good. */
  get closed(): boolean {
    return this.#closed;
  }

  /** When the link went down, while it is down. */
  get downSince(): Date | undefined {
    return this.#up ? undefined : this.#downSince;
  }

  /** A few words on the link for error messages. */
  describe(): string {
    if (this.#closed) return "the connection is closed";
    return this.#downSince && !this.#up ? `the link to the site has been down since ${this.#downSince.toISOString()}` : "the link to the site is up";
  }

  /** Calls `listener` on each change until the returned function is called. */
  on(listener: (event: LinkEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Resolves once the link is up; throws `connection_closed`, or `timeout` at `deadline` (ms epoch). */
  async waitUp(deadline: number, what: string): Promise<void> {
    if (this.up) return;
    if (this.#closed) throw this.#closedError(what);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new FerryClientError("timeout", `${what}: gave up waiting for the link to the site (${this.describe()})`));
      }, Math.max(0, deadline - Date.now()));
      const off = this.on((event) => {
        if (event === "down") return;
        clearTimeout(timer);
        off();
        if (event === "up") resolve();
        else reject(this.#closedError(what));
      });
    });
  }

  #closedError(what: string): FerryClientError {
    return new FerryClientError("connection_closed", `${what}: the NATS connection is closed`);
  }

  #set(event: LinkEvent): void {
    if (event === "down" && this.#up) this.#downSince = new Date();
    if (event === "closed") this.#closed = true;
    else this.#up = event === "up";
    for (const listener of [...this.#listeners]) listener(event);
  }
}

/**
 * Runs `attempt` (given the ms left) while the link is up; when the link drops before it settles,
 * runs it again after the reconnect (nats.js dropped the message, or its reply), until `deadline`.
 * Only for idempotent attempts: a JetStream publish with a msgID, or an inference.
 */
export async function untilAnswered<T>(link: LinkState, deadline: number, what: string, attempt: (timeoutMs: number) => Promise<T>): Promise<T> {
  for (;;) {
    await link.waitUp(deadline, what);
    const left = deadline - Date.now();
    if (left <= 0) throw new FerryClientError("timeout", `${what}: no answer in time (${link.describe()})`);
    const outcome = await unlessLinkDrops(link, attempt(left));
    if (outcome.settled) return outcome.value;
  }
}

function unlessLinkDrops<T>(link: LinkState, pending: Promise<T>): Promise<{ settled: true; value: T } | { settled: false }> {
  return new Promise((resolve, reject) => {
    const off = link.on((event) => {
      if (event !== "down") return;
      off();
      resolve({ settled: false });
    });
    // A late rejection of an abandoned attempt lands here and is ignored (the promise has settled).
    pending.then((value) => { off(); resolve({ settled: true, value }); }, (err: unknown) => { off(); reject(err as Error); });
  });
}
