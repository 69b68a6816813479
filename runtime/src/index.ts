/** What Ferry's services share at run time: connecting, watching, discovery, metrics, lifecycle, topology. */
export { serviceOf } from "./service.js";
export type { Service } from "./service.js";
export { DefaultNatsUrl, natsServers, natsCredentials, natsUrlWithCredentials, natsConnectOptions, connectService } from "./nats-connect.js";
export { watchConnection } from "./connection-watch.js";
export type { ConnectionWatch } from "./connection-watch.js";
export { ServiceResponseTypes, ServiceApiPrefix, FerryServiceVersion, EndpointCounter, serviceIdToken, serveDiscovery } from "./service-discovery.js";
export type { ServiceIdentity, ServicePing, ServiceEndpointInfo, ServiceInfo, ServiceEndpointStats, ServiceStats, DiscoverableService, DiscoveryResponder } from "./service-discovery.js";
export { serviceRegistry, registerNatsMetrics, setCounter, answerMetrics } from "./metrics.js";
export type { MetricsIdentity } from "./metrics.js";
export { requestStreamConfig, resultStreamConfig, ensureStream, ensureDurableStreams } from "./durable-streams.js";
export type { DurableStorage } from "./durable-streams.js";
export { openDeploymentStores } from "./deployment-stores.js";
export type { DeploymentStores } from "./deployment-stores.js";
export { NatsRoles, rolePermissions, edgeLeafPermissions } from "./nats-permissions.js";
export type { NatsRole, NatsPermissions } from "./nats-permissions.js";
