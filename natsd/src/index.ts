export { startNatsServer, findNatsServer, natsServerVersion, type NatsServer, type NatsServerOptions } from "./nats-server.js";
