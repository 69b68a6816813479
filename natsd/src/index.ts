export { startNatsServer, findNatsServer, natsServerVersion, type LeafRemote, type NatsServer, type NatsServerOptions, type NatsUser } from "./nats-server.js";
