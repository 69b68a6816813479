export { startNatsServer, findNatsServer, natsServerVersion, type ClusterOptions, type LeafRemote, type NatsServer, type NatsServerOptions, type NatsUser } from "./nats-server.js";
