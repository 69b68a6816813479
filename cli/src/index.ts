export { startSite, type Site } from "./start.js";
export { maxPayloadFor } from "./site-nats.js";
export { parseStart, demoManifests, usage, type StartOptions } from "./options.js";
export { prepareEdge, joinHub, joinInBackground, edgeServerOptions, leafRemoteOf, type EdgeSetup } from "./edge.js";
export { credentialsPath, readCredentials, saveCredentials } from "./edge-credentials.js";
export { natsAuthRequired, natsSecret, secretPasswords, sitePasswords, siteUsers, roleUrl, type NatsAuthMode, type SitePasswords } from "./site-users.js";
export { deployCommand } from "./deploy-command.js";
