import { errors, type NatsConnection } from "@nats-io/transport-node";
import { heartbeatSubject, type EdgeStanding, type Heartbeat, type HeartbeatReply, type LinkStatus } from "@ferry/contracts";
import type { Logger } from "pino";
import { sitePipelines } from "./site-pipelines.js";

/** How the heartbeat runs. */
export interface HeartbeatOptions {
  edge: string;
  intervalMs: number;
  /** Between heartbeats while the link is down, so that it is seen up soon after it returns. */
  downIntervalMs: number;
  timeoutMs: number;
  /** Called when the link comes up (the first answered heartbeat, and each one after a failure). */
  onUp: () => void;
  /**
   * Asks the hub (over its Ops API, not the link) what it says of this edge's identity; undefined when it
   * cannot tell. Asked while heartbeats fail: on the first failure, on {@link HeartbeatLoop.recheck}, and
   * at most every `standingEveryMs` after, so that a refused edge says `revoked` or `lapsed`, not `down`.
   */
  standing?: (() => Promise<EdgeStanding | undefined>) | undefined;
  /** Between standing questions while heartbeats fail, ms. */
  standingEveryMs: number;
  log: Logger;
}

/** What a revoked or lapsed edge says: the hub will never take this identity again. */
function refusedDetail(state: "revoked" | "lapsed"): string {
  const why = state === "revoked" ? "the Ops hub revoked this edge (removed, or re-added with a new identity)" : "this edge made no contact with the Ops hub within its contact period";
  return `${why}: its identity is refused from now on; ask Ops for a new EDGE_BUNDLE and start with it (ferry start --bundle ...)`;
}

/** Sends heartbeats to the hub and keeps the link's state from their answers. */
export class HeartbeatLoop {
  readonly #nc: NatsConnection;
  readonly #o: HeartbeatOptions;
  #status: LinkStatus;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;
  /** When the standing was last asked (0: ask at the next failure). */
  #askedAt = 0;

  constructor(nc: NatsConnection, options: HeartbeatOptions) {
    this.#nc = nc;
    this.#o = options;
    this.#status = { joined: true, edge: options.edge, link: "down", detail: "no heartbeat answered yet" };
  }

  /** The link's state now. */
  status(): LinkStatus {
    return { ...this.#status };
  }

  /** Sends a heartbeat now (unless one is in flight), then every interval. */
  beatNow(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    clearTimeout(this.#timer);
    this.#running ??= this.#beat().finally(() => {
      this.#running = undefined;
      const next = this.#status.link === "up" ? this.#o.intervalMs : Math.min(this.#o.intervalMs, this.#o.downIntervalMs);
      if (!this.#stopped) this.#timer = setTimeout(() => void this.beatNow(), next);
    });
    return this.#running;
  }

  /** The hub may have refused the link (the site's server logged so): ask its standing at the next failure, and beat now. */
  recheck(): void {
    this.#askedAt = 0;
    void this.beatNow();
  }

  /** Stops sending; resolves once a heartbeat in flight has settled. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  async #beat(): Promise<void> {
    const body: Heartbeat = { edge: this.#o.edge, pipelines: await sitePipelines(this.#nc) };
    let reply: HeartbeatReply;
    try {
      const msg = await this.#nc.request(heartbeatSubject(this.#o.edge), JSON.stringify(body), { timeout: this.#o.timeoutMs });
      reply = readReply(msg.json<unknown>());
    } catch (err) {
      reply = { ok: false, detail: failureDetail(err, this.#o.timeoutMs) };
    }
    if (this.#stopped) return;
    this.#record(reply);
    if (!reply.ok) await this.#askStanding();
  }

  /** On a failed heartbeat: whether the hub still accepts this edge's identity (see {@link HeartbeatOptions.standing}). */
  async #askStanding(): Promise<void> {
    const { link } = this.#status;
    if (!this.#o.standing || link === "revoked" || link === "lapsed" || Date.now() - this.#askedAt < this.#o.standingEveryMs) return;
    this.#askedAt = Date.now();
    const state = await this.#o.standing().catch(() => undefined);
    if (this.#stopped || (state !== "revoked" && state !== "lapsed")) return;
    const { last_contact } = this.#status;
    this.#status = { joined: true, edge: this.#o.edge, link: state, ...(last_contact ? { last_contact } : {}), detail: refusedDetail(state) };
    this.#o.log.error({ edge: this.#o.edge, link: state }, this.#status.detail);
  }

  #record(reply: HeartbeatReply): void {
    const was = this.#status.link;
    if (reply.ok) {
      this.#status = { joined: true, edge: this.#o.edge, link: "up", last_contact: Date.now() };
      this.#askedAt = 0;
      if (was !== "up") {
        this.#o.log.info({ edge: this.#o.edge }, "link to the Ops hub is up");
        this.#o.onUp();
      }
      return;
    }
    const { last_contact, detail: before, link } = this.#status;
    // Revoked and lapsed identities never come back: that outlasts any later failure.
    if (link === "revoked" || link === "lapsed") return;
    this.#status = { joined: true, edge: this.#o.edge, link: "down", ...(last_contact ? { last_contact } : {}), detail: reply.detail ?? "the hub refused the edge" };
    // Once per change of reason, not once per heartbeat.
    if (was === "up" || before !== this.#status.detail) this.#o.log.warn({ edge: this.#o.edge, detail: this.#status.detail }, "link to the Ops hub is down; serving and logging locally");
  }
}

function readReply(value: unknown): HeartbeatReply {
  const r = value as Partial<HeartbeatReply> | null;
  if (typeof r?.ok !== "boolean") return { ok: false, detail: "the hub's heartbeat reply is not {ok, detail}" };
  return { ok: r.ok, ...(typeof r.detail === "string" ? { detail: r.detail } : {}) };
}

function failureDetail(err: unknown, timeoutMs: number): string {
  if (err instanceof errors.NoRespondersError || (err instanceof errors.RequestError && err.isNoResponders())) {
    return "the hub is unreachable (no one answers heartbeats)";
  }
  if (err instanceof errors.TimeoutError || (err instanceof errors.RequestError && err.cause instanceof errors.TimeoutError)) {
    return `the hub did not answer within ${timeoutMs} ms`;
  }
  if (err instanceof SyntaxError) return "the hub's heartbeat reply is not JSON";
  return `heartbeat failed: ${(err as Error).message}`;
}
