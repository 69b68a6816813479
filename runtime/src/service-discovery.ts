import type { NatsConnection, Subscription } from "@nats-io/transport-node";

/**
 * NATS service discovery (ADR-32, "NATS micro"): a service answers `$SRV.PING`, `$SRV.INFO` and
 * `$SRV.STATS`, each also under `.<name>` and `.<name>.<id>`, so `nats micro ls` and any NATS client
 * can find Ferry's inferers and loggers and read their request counts.
 *
 * Implemented here rather than with @nats-io/services: the inferer's handlers (queue group, batching,
 * envelopes, asynchronous replies) stay on their own subscriptions, and the library times a handler
 * only until it returns, so an asynchronous reply would count ~0 ns; its only release on npm is also a
 * prerelease pinned to an older nats-core.
 */

/** Response types of the three verbs. */
export const ServiceResponseTypes = {
  ping: "io.nats.micro.v1.ping_response",
  info: "io.nats.micro.v1.info_response",
  stats: "io.nats.micro.v1.stats_response",
} as const;

/** Prefix of every discovery subject. */
export const ServiceApiPrefix = "$SRV";

/** Ferry's version as its services report it (ADR-32 wants semver). */
export const FerryServiceVersion = "0.1.0";

/** Who a service is: the fields every response starts with. */
export interface ServiceIdentity {
  /** The service's name, shared by its instances (`ferry-inferer`). */
  name: string;
  /** This instance's id (one subject token). */
  id: string;
  version: string;
  metadata: Record<string, string>;
}

/** `$SRV.PING` response. */
export interface ServicePing extends ServiceIdentity {
  type: typeof ServiceResponseTypes.ping;
}

/** One endpoint as `$SRV.INFO` lists it. */
export interface ServiceEndpointInfo {
  name: string;
  subject: string;
  queue_group: string;
  metadata: Record<string, string> | null;
}

/** `$SRV.INFO` response. */
export interface ServiceInfo extends ServiceIdentity {
  type: typeof ServiceResponseTypes.info;
  description: string;
  endpoints: ServiceEndpointInfo[];
}

/** One endpoint's counters as `$SRV.STATS` reports them (times in ns). */
export interface ServiceEndpointStats {
  name: string;
  subject: string;
  queue_group: string;
  num_requests: number;
  num_errors: number;
  last_error: string;
  processing_time: number;
  average_processing_time: number;
  data?: unknown;
}

/** `$SRV.STATS` response. */
export interface ServiceStats extends ServiceIdentity {
  type: typeof ServiceResponseTypes.stats;
  /** When this instance started (ISO 8601). */
  started: string;
  endpoints: ServiceEndpointStats[];
}

/**
 * Counts one endpoint's requests. Callers record each answered request with the time it took, so
 * the counts are the service's own, whatever the subscription does.
 */
export class EndpointCounter {
  requests = 0;
  errors = 0;
  processingNs = 0;
  lastError = "";

  constructor(readonly name: string, readonly subject: string, readonly queue: string) {}

  /** Counts one request that took `ns`; `error` (what went wrong) marks it failed. */
  record(ns: number, error?: string): void {
    this.requests++;
    this.processingNs += ns;
    if (error !== undefined) {
      this.errors++;
      this.lastError = error;
    }
  }

  info(): ServiceEndpointInfo {
    return { name: this.name, subject: this.subject, queue_group: this.queue, metadata: null };
  }

  /** The ADR-32 stats entry, with `data` (service-specific counters) when given. */
  stats(data?: unknown): ServiceEndpointStats {
    return {
      name: this.name,
      subject: this.subject,
      queue_group: this.queue,
      num_requests: this.requests,
      num_errors: this.errors,
      last_error: this.lastError,
      processing_time: Math.round(this.processingNs),
      average_processing_time: this.requests > 0 ? Math.round(this.processingNs / this.requests) : 0,
      ...(data === undefined ? {} : { data }),
    };
  }
}

/** What a discoverable service tells about itself. */
export interface DiscoverableService {
  name: string;
  /** Any string: made into one subject token. */
  id: string;
  description: string;
  metadata?: Record<string, string>;
  /** The endpoints it serves now. */
  endpoints(): readonly ServiceEndpointInfo[];
  /** Their counters now. */
  stats(): readonly ServiceEndpointStats[];
}

/** A running discovery responder. */
export interface DiscoveryResponder {
  readonly id: string;
  stop(): Promise<void>;
}

/** An id usable as one subject token (host names may hold dots). */
export function serviceIdToken(id: string): string {
  return id.replace(/[^A-Za-z0-9_-]/g, "_") || "_";
}

/** Answers `$SRV.{PING,INFO,STATS}[.<name>[.<id>]]` for `service` (all instances answer: no queue group). */
export function serveDiscovery(nc: NatsConnection, service: DiscoverableService): DiscoveryResponder {
  const identity: ServiceIdentity = { name: service.name, id: serviceIdToken(service.id), version: FerryServiceVersion, metadata: service.metadata ?? {} };
  const started = new Date().toISOString();
  const answers = {
    PING: (): ServicePing => ({ type: ServiceResponseTypes.ping, ...identity }),
    INFO: (): ServiceInfo => ({ type: ServiceResponseTypes.info, ...identity, description: service.description, endpoints: [...service.endpoints()] }),
    STATS: (): ServiceStats => ({ type: ServiceResponseTypes.stats, ...identity, started, endpoints: [...service.stats()] }),
  };
  const subs: Subscription[] = [];
  for (const [verb, answer] of Object.entries(answers)) {
    for (const subject of [`${ServiceApiPrefix}.${verb}`, `${ServiceApiPrefix}.${verb}.${identity.name}`, `${ServiceApiPrefix}.${verb}.${identity.name}.${identity.id}`]) {
      subs.push(nc.subscribe(subject, { callback: (err, msg) => { if (!err) msg.respond(JSON.stringify(answer())); } }));
    }
  }
  return {
    id: identity.id,
    stop: async () => {
      await Promise.all(subs.filter((s) => !s.isClosed()).map((s) => s.drain()));
    },
  };
}
