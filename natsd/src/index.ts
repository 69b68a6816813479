export { startNatsServer, type ClusterOptions, type LeafCompression, type LeafRemote, type NatsServer, type NatsServerOptions, type NatsTls, type NatsUser, type NkeyUser, type PasswordUser } from "./nats-server.js";
export {
  MIN_NATS_SERVER, NEWER_SERVER_HINT, PROJECT_NATS_SERVER, findNatsServer, isCurrentEnough, natsServerVersion, parseServerVersion, requireNatsServer,
  type ServerBinary,
} from "./server-binary.js";
export { NatsSupervisor, type ServerSpawner, type SupervisorEvents, type SupervisorOptions, type SupervisedState } from "./supervisor.js";
export { caFingerprint, ensureOwnTls, makeCa, makeServerCert, normalFingerprint, writePrivate, type CertPair, type OwnTls, type TlsFiles } from "./certificates.js";
