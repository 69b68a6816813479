import type { NatsConnection } from "@nats-io/transport-node";
import { Counter, Gauge } from "prom-client";
import { NatsSupervisor } from "@ferry/natsd";
import { answerMetrics, connectService, serviceRegistry, setCounter } from "@ferry/runtime";
import type { Logger } from "pino";
import type { NatsSpawner } from "./site-nats.js";

/** The site's nats-server under supervision, and the connection that reports on it in `/metrics`. */
export interface SupervisedNats {
  readonly supervisor: NatsSupervisor;
  /** Starts answering `ferry.metrics` for the supervisor, connecting as `adminUrl`. */
  reportMetrics(adminUrl: string, instance: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Spawns the site's nats-server and keeps it running (restarts at once on the same port and store;
 * see NatsSupervisor). Each exit and restart is logged; after repeated failed starts `gaveUp` is called.
 */
export async function superviseNats(spawn: NatsSpawner, port: number, log: Logger, gaveUp: (err: Error) => void): Promise<SupervisedNats> {
  const supervisor = await NatsSupervisor.start(spawn, port, {
    exited: (info) => log.error(info, "nats-server exited; starting it again"),
    restarted: (_server, info) => log.warn(info, "nats-server is running again"),
    startFailed: (err, info) => log.error({ err: err.message, ...info }, "nats-server did not start"),
    gaveUp: (err, info) => {
      log.fatal({ err: err.message, ...info }, "nats-server does not start: giving up");
      gaveUp(err);
    },
  });
  let nc: NatsConnection | undefined;
  return {
    supervisor,
    reportMetrics: async (adminUrl, instance) => {
      nc = await connectService("ferry-nats-supervisor", adminUrl);
      answerMetrics(nc, supervisorRegistry(supervisor, instance));
    },
    stop: async () => {
      await nc?.close();
      await supervisor.stop();
    },
  };
}

function supervisorRegistry(supervisor: NatsSupervisor, instance: string): ReturnType<typeof serviceRegistry> {
  const registry = serviceRegistry({ service: "nats-supervisor", instance });
  new Counter({
    name: "ferry_nats_server_restarts_total",
    help: "Times the site's spawned nats-server exited on its own and was started again.",
    registers: [registry],
    collect() { setCounter(this, supervisor.restarts); },
  });
  new Gauge({
    name: "ferry_nats_server_running",
    help: "1 while the spawned nats-server runs; 0 while it is being restarted or was given up on.",
    registers: [registry],
    collect() { this.set(supervisor.state === "running" ? 1 : 0); },
  });
  return registry;
}
