/**
 * Prometheus helpers shared by the services (`@ferry/runtime`, apart from the main entry so
 * that importing the contracts does not load prom-client: the client library never needs it).
 */
import { Counter, Gauge, Registry } from "prom-client";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { Subjects } from "@ferry/contracts";
import { watchConnection } from "./connection-watch.js";

/** Which service a registry belongs to; every sample carries both as labels. */
export interface MetricsIdentity {
  /** `gateway`, `inferer` or `logger`. */
  service: string;
  /** This process's or thread's id, so series of two inferers never collide. */
  instance: string;
}

/**
 * A registry of one service instance. Each service has its own (never prom-client's global one): one
 * process may run a gateway, inferers and a logger, and each answers for itself.
 */
export function serviceRegistry(id: MetricsIdentity): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service: id.service, instance: id.instance });
  return registry;
}

/** Adds `ferry_nats_connected` and `ferry_nats_reconnects_total` for the service's connection. */
export function registerNatsMetrics(registry: Registry, nc: NatsConnection): void {
  const watch = watchConnection(nc);
  new Gauge({
    name: "ferry_nats_connected",
    help: "1 while the service's NATS connection is up, 0 while it is disconnected or reconnecting.",
    registers: [registry],
    collect() { this.set(watch.connected ? 1 : 0); },
  });
  new Counter({
    name: "ferry_nats_reconnects_total",
    help: "Times the service's NATS connection reconnected.",
    registers: [registry],
    collect() { setCounter(this, watch.reconnects); },
  });
}

/** Sets an unlabelled counter whose count is kept elsewhere (read at scrape time, so the hot path pays nothing). */
export function setCounter(counter: Counter, value: number): void {
  counter.reset();
  counter.inc(value);
}

/**
 * Answers `ferry.metrics` with the registry's text (every instance answers; the gateway gathers the
 * replies for `GET /metrics`).
 */
export function answerMetrics(nc: NatsConnection, registry: Registry): Subscription {
  return nc.subscribe(Subjects.metrics, {
    callback: (err, msg) => {
      if (err) return;
      registry.metrics().then((text) => msg.respond(text), (e: unknown) => msg.respond(`# metrics failed: ${String(e).replace(/\n/g, " ")}\n`));
    },
  });
}
