import { createInbox, errors, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from "@nats-io/transport-node";

interface Waiter {
  subject: string;
  deadline: number;
  resolve: (m: Msg) => void;
  reject: (e: unknown) => void;
}

/** The status nats-server puts on the empty message it sends to a request's inbox when nobody subscribes. */
const NO_RESPONDERS = 503;

/**
 * NATS request/reply for the hot paths (the gateway's requests, the inferer's log publishes): one inbox subscription for every request (as nats.js's
 * own `request` does), without what `request` costs per call. nats.js 3 builds an Error for every request
 * it settles (`RequestOne.cancel` makes a "cancelled" RequestError, stack and all, even after a reply) and
 * arms a timer per request; the Error alone was ~20 µs of CPU per request here (profiled under load). This keeps a
 * map of waiters and one sweep timer, and builds errors (nats.js's own classes, which the callers already
 * recognise) only for requests that fail. Documented workaround: nothing of nats.js is patched.
 */
export class RequestMux {
  readonly #nc: NatsConnection;
  readonly #prefix: string;
  readonly #waiters = new Map<string, Waiter>();
  #sub: Subscription | undefined;
  #next = 0;
  #sweeper: NodeJS.Timeout | undefined;
  #sweepMs = 0;

  constructor(nc: NatsConnection) {
    this.#nc = nc;
    this.#prefix = `${createInbox()}.`;
    // A closed connection answers nothing more: fail what waits instead of letting it time out.
    void nc.closed().then(() => this.#failAll(new errors.ClosedConnectionError()));
  }

  /** Publishes `body` to `subject` and resolves with the reply; rejects with nats.js's NoRespondersError, TimeoutError or a publish error. */
  request(subject: string, body: Uint8Array, headers: MsgHdrs, timeoutMs: number): Promise<Msg> {
    this.#sub ??= this.#nc.subscribe(`${this.#prefix}*`, { callback: (_err, msg) => this.#onReply(msg) });
    const token = (this.#next++).toString(36);
    return new Promise<Msg>((resolve, reject) => {
      try {
        this.#nc.publish(subject, body, { reply: this.#prefix + token, headers });
      } catch (err) {
        reject(err);
        return;
      }
      this.#waiters.set(token, { subject, deadline: Date.now() + timeoutMs, resolve, reject });
      this.#armSweep(timeoutMs);
    });
  }

  /** Requests waiting for a reply now. */
  get waiting(): number {
    return this.#waiters.size;
  }

  #onReply(msg: Msg): void {
    const token = msg.subject.slice(this.#prefix.length);
    const w = this.#waiters.get(token);
    if (!w) return; // timed out already, or the connection was lost meanwhile
    this.#waiters.delete(token);
    if (msg.data.length === 0 && msg.headers?.code === NO_RESPONDERS) w.reject(new errors.NoRespondersError(w.subject));
    else w.resolve(msg);
  }

  /**
   * One timer for all requests, firing every quarter of the shortest timeout asked for: a request times
   * out between its timeout and 1.25 times it. It stops once nothing waits.
   */
  #armSweep(timeoutMs: number): void {
    const every = Math.max(5, Math.floor(timeoutMs / 4));
    if (this.#sweeper && every >= this.#sweepMs) return;
    clearInterval(this.#sweeper);
    this.#sweepMs = every;
    this.#sweeper = setInterval(() => this.#sweep(), every);
    this.#sweeper.unref();
  }

  #sweep(): void {
    const now = Date.now();
    for (const [token, w] of this.#waiters) {
      if (w.deadline > now) continue;
      this.#waiters.delete(token);
      w.reject(new errors.TimeoutError());
    }
    if (this.#waiters.size === 0) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }

  #failAll(err: Error): void {
    for (const w of this.#waiters.values()) w.reject(err);
    this.#waiters.clear();
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }
}
