export { startSite, maxPayloadFor, type Site } from "./start.js";
export { parseStart, demoManifests, usage, type StartOptions } from "./options.js";
export { prepareEdge, joinHub, joinInBackground, edgeServerOptions, leafRemoteOf, type EdgeSetup } from "./edge.js";
export { credentialsPath, readCredentials, saveCredentials } from "./edge-credentials.js";
