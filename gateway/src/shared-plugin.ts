import type { FastifyPluginAsync } from "fastify";

/**
 * Marks a plugin as not encapsulated (what the fastify-plugin package does, without the dependency):
 * its decorations and hooks land on the instance that registers it, so sibling route plugins see them.
 */
export function sharedPlugin<Options extends object>(plugin: FastifyPluginAsync<Options>): FastifyPluginAsync<Options> {
  return Object.assign(plugin, { [Symbol.for("skip-override")]: true });
}
