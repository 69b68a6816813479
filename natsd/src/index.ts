export { startNatsServer, type ClusterOptions, type LeafCompression, type LeafRemote, type NatsServer, type NatsServerOptions, type NatsUser } from "./nats-server.js";
export {
  MIN_NATS_SERVER, NEWER_SERVER_HINT, PROJECT_NATS_SERVER, findNatsServer, isCurrentEnough, natsServerVersion, parseServerVersion, requireNatsServer,
  type ServerBinary,
} from "./server-binary.js";
export { NatsSupervisor, type ServerSpawner, type SupervisorEvents, type SupervisorOptions, type SupervisedState } from "./supervisor.js";
