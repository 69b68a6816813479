export { startSite, maxPayloadFor, type Site } from "./start.js";
export { parseStart, demoManifests, usage, type StartOptions } from "./options.js";
