export { start, DEFAULT_BODY_LIMIT, type Gateway, type GatewayOptions } from "./gateway.js";
export { buildApp, type AppOptions } from "./app.js";
export { Coalescer, type CoalescerOptions, type ForwardReply, type ForwardRequest } from "./coalescer.js";
export { linkStatus, type Health } from "./health.js";
export { registerReady, type Readiness } from "./readiness.js";
export { registerMetrics, CURRENT_PIPELINE_LABEL, UNKNOWN_PIPELINE_LABEL } from "./metrics.js";
export { gatherMetrics, mergeExpositions, METRICS_GATHER_MS } from "./metrics-merge.js";
export { registerDashboard, defaultDashboardDist, DASHBOARD_CSP, type DashboardOptions } from "./dashboard.js";
export { dashboardOpenApiPaths, DASHBOARD_PREFIX } from "./dashboard-openapi.js";
