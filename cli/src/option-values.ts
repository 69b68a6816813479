// Reads a command's options out of parsed flags and the environment, by the option table.
import type { ParseArgsConfig } from "node:util";
import { optionTable } from "./option-table.js";
import type { AnyOption, Command, Given } from "./option-spec.js";

/** Flag values as node:util parseArgs returns them. */
export type FlagValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** The table's entries (key, spec) that `command` takes. */
export function optionsOf(command: Command): [string, AnyOption][] {
  return Object.entries(optionTable as Record<string, AnyOption>).filter(([, o]) => o.commands.includes(command));
}

/** parseArgs' configuration for `command`'s flags (and --help). */
export function flagConfig(command: Command): NonNullable<ParseArgsConfig["options"]> {
  const config: NonNullable<ParseArgsConfig["options"]> = { help: { type: "boolean", short: "h" } };
  for (const [, o] of optionsOf(command)) {
    if (!o.flag) continue;
    config[o.flag] = { type: o.arg ? "string" : "boolean", ...(o.short ? { short: o.short } : {}), ...(o.repeatable ? { multiple: true } : {}) };
  }
  return config;
}

/** The option's text, and what it came from (for error messages); undefined when neither says. */
function rawValue(o: AnyOption, flags: FlagValues, env: NodeJS.ProcessEnv): { text: string; items?: string[]; from: string } | undefined {
  const given = o.flag ? flags[o.flag] : undefined;
  if (Array.isArray(given) && given.length > 0) {
    const items = given.map(String);
    return { text: items.join(","), items, from: `--${o.flag}` };
  }
  // An empty flag or variable means "not set": compose files write `NAME: ${NAME:-}`.
  if (given !== undefined && given !== "" && !Array.isArray(given)) return { text: String(given), from: `--${o.flag}` };
  const fromEnv = o.env ? env[o.env] : undefined;
  return fromEnv ? { text: fromEnv, from: o.env! } : undefined;
}

/** Parses one option's value; the error names the flag or variable it came from. */
function parseValue(o: AnyOption, raw: { text: string; items?: string[]; from: string }): unknown {
  try {
    return o.parser.parse(raw.text, raw.items) as unknown;
  } catch (err) {
    throw new Error(`${raw.from} ${(err as Error).message}`);
  }
}

/**
 * `command`'s options by key: each from its flag, else its environment variable, else its default
 * (computed ones see the values given, e.g. no demo manifests with an EDGE_BUNDLE).
 */
export function readOptions(command: Command, flags: FlagValues, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const entries = optionsOf(command);
  const given: Record<string, unknown> = {};
  for (const [key, o] of entries) {
    const raw = rawValue(o, flags, env);
    if (raw) given[key] = parseValue(o, raw);
  }
  const out: Record<string, unknown> = { ...given };
  for (const [key, o] of entries) {
    if (key in given) continue;
    out[key] = typeof o.default === "function" ? (o.default as (g: Given) => unknown)(given) : o.default;
  }
  return out;
}
