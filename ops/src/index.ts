export { start, type Ops, type OpsOptions } from "./ops.js";
export { EdgeBucket, type EdgeRecord, type EdgeState } from "./edge-registry.js";
export { Roles, RouteRoles, roleOf, type Role, type RouteKey } from "./roles.js";
export { DefaultTokenTtlMs, TokenPrefix, isApiToken, type TokenRecord, type TokenView } from "./api-tokens.js";
export type { OidcOptions } from "./oidc.js";
export { passwordHash } from "./secrets.js";
