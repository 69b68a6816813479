import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { FerryError, HubDomain, Subjects, isSubjectToken, type EdgeStanding, type LinkStatus } from "@ferry/contracts";
import { connectService, serviceOf, watchConnection, type Service } from "@ferry/runtime";
import { pino, type Logger } from "pino";
import { HeartbeatLoop } from "./heartbeat.js";
import { PublishFollower, type FollowedVersion } from "./publish-follower.js";

/** How to start the link service of an edge joined to an Ops hub. */
export interface LinkOptions {
  /** The site's NATS server URL(s); ignored when `nc` is given. Default nats://127.0.0.1:4222. */
  natsUrl?: string;
  /** An open connection to the site's server (the service drains it on stop). */
  nc?: NatsConnection;
  /** The edge's name (its JetStream domain and log partition). */
  edge: string;
  /** The pipeline published on the hub that this edge follows. */
  pipeline: string;
  /** The hub's JetStream domain. Default `hub`. */
  hubDomain?: string;
  /** Between heartbeats, ms. Default 10 000. */
  heartbeatMs?: number;
  /** Between heartbeats while the link is down, ms. Default 500 (or `heartbeatMs` if shorter): a heartbeat answered again is what restarts the hub's log sync. */
  downHeartbeatMs?: number;
  /** How long a heartbeat waits for the hub's answer, ms. Default 5000. */
  heartbeatTimeoutMs?: number;
  /** Longest wait between tries to follow the hub's pipeline, ms. Default 30 000. */
  maxBackoffMs?: number;
  /**
   * Asks the Ops hub what it says of this edge's identity (a signed `POST /edges/{name}/status`; see
   * `ferry start`); undefined when it cannot tell. Without it a refused link only ever says `down`.
   */
  standing?: () => Promise<EdgeStanding | undefined>;
  /** Between standing questions while heartbeats fail, ms. Default 30 000. */
  standingEveryMs?: number;
  /** Called each time a version from the hub has been deployed on the site. */
  onDeployed?: (v: FollowedVersion) => void;
  logger?: Logger;
}

/** A running link service. */
export interface LinkService extends Service {
  /** The link's state now (what `ferry.link.status` answers). */
  linkStatus(): LinkStatus;
  /** The hub refused the leaf link: ask the hub at once whether this edge was revoked or lapsed. */
  recheck(): void;
}

/**
 * Starts the link service: heartbeats to the Ops hub, answers `ferry.link.status`, and deploys on
 * the site each version of its pipeline published on the hub. It talks only to the site's own server,
 * which reaches the hub as a leaf node; while the link is down the site serves and logs as before.
 */
export async function start(options: LinkOptions): Promise<LinkService> {
  if (!isSubjectToken(options.edge)) throw new FerryError("bad_request", `edge name ${JSON.stringify(options.edge)} is not a name of letters, digits, _ and -`);
  if (!isSubjectToken(options.pipeline)) throw new FerryError("bad_request", `pipeline ${JSON.stringify(options.pipeline)} is not a name of letters, digits, _ and -`);
  const log = options.logger ?? pino({ name: "link" });
  const nc = options.nc ?? await connectService("ferry-link", options.natsUrl);
  const hub = jetstream(nc, { domain: options.hubDomain ?? HubDomain, timeout: 5000 });
  const follower = new PublishFollower(nc, hub, {
    pipeline: options.pipeline, maxBackoffMs: options.maxBackoffMs ?? 30_000, log, onDeployed: options.onDeployed,
  });
  const heartbeat = new HeartbeatLoop(nc, {
    edge: options.edge, intervalMs: options.heartbeatMs ?? 10_000, downIntervalMs: options.downHeartbeatMs ?? 500, timeoutMs: options.heartbeatTimeoutMs ?? 5000, log,
    standing: options.standing, standingEveryMs: options.standingEveryMs ?? 30_000,
    // The watch across the link may have missed versions published while it was down.
    onUp: () => follower.resync(),
  });
  const sub = answerLinkStatus(nc, () => heartbeat.status());
  watchConnection(nc, (e) => {
    if (e !== "reconnect") return;
    // The site's own server restarted: whatever the heartbeat last saw may be stale.
    follower.resync();
    void heartbeat.beatNow();
  });
  follower.start();
  void heartbeat.beatNow();
  log.info({ edge: options.edge, pipeline: options.pipeline }, "link service started");
  return serviceOf("link", async () => {
    await heartbeat.stop();
    await follower.stop();
    await sub.drain().catch(() => undefined);
    await nc.drain();
  }, { linkStatus: () => heartbeat.status(), recheck: () => heartbeat.recheck() });
}

function answerLinkStatus(nc: NatsConnection, status: () => LinkStatus): Subscription {
  return nc.subscribe(Subjects.linkStatus, {
    callback: (err, msg) => { if (!err) msg.respond(JSON.stringify(status())); },
  });
}
