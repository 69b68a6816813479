export { start, DEFAULT_BODY_LIMIT, type Gateway, type GatewayOptions } from "./gateway.js";
export { buildApp, type AppOptions } from "./app.js";
export { Coalescer, type CoalescerOptions, type ForwardReply, type ForwardRequest } from "./coalescer.js";
export { linkStatus, type Health } from "./health.js";
