export { start, type LinkOptions, type LinkService } from "./link.js";
export type { FollowedVersion } from "./publish-follower.js";
