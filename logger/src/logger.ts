import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import { Headers, MediaTypes, Subjects, serviceOf, type Service } from "@ferry/contracts";
import { pino, type Logger } from "pino";

/** How to start the logger service. */
export interface LoggerOptions {
  natsUrl?: string;
  nc?: NatsConnection;
  logger?: Logger;
}

/**
 * Starts the logger service. For now it only answers `ferry.logs.query` with an empty page, so that
 * `POST /logs` has a well-formed reply; the JetStream-backed log store is the next issue's work.
 */
export async function start(options: LoggerOptions = {}): Promise<Service> {
  const log = options.logger ?? pino({ name: "logger" });
  const nc = options.nc ?? await connect({ servers: options.natsUrl ?? "nats://127.0.0.1:4222", name: "ferry-logger", maxReconnectAttempts: -1 });
  const sub = nc.subscribe(Subjects.logsQuery, {
    callback: (err, msg) => {
      if (err) return;
      const h = headers();
      h.set(Headers.status, "200");
      h.set(Headers.contentType, MediaTypes.pandasRecords);
      msg.respond("[]", { headers: h });
    },
  });
  await nc.flush();
  log.info("logger ready (log storage not built yet: /logs answers an empty page)");
  return serviceOf("logger", async () => {
    await sub.drain();
    await nc.drain();
  }, {});
}
