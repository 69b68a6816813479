// The shape of one entry of the option table (option-table.ts) and the types derived from the table.
import type { Parser } from "./option-parsers.js";

/** Every command that takes options; `ferry start ops` and `ferry start nats` take their own. */
export const Commands = ["start", "start nats", "start ops", "deploy", "undeploy", "current", "nats-password", "device add", "device remove", "device list", "logs", "ops token create", "ops token list", "ops token revoke", "tls init"] as const;
export type Command = (typeof Commands)[number];

/** Options given so far (flags and environment), by key: a default may depend on them. */
export type Given = Readonly<Record<string, unknown>>;

/** One option: where it is read from, how, its default, what it means and which commands take it. */
export interface OptionSpec<T, C extends Command> {
  /** The long flag without its dashes; absent: environment only. */
  flag?: string;
  /** One-letter alias (`-p`). */
  short?: string;
  /** The value's placeholder in help (`N`, `ADDR`); absent: a flag that takes no value. */
  arg?: string;
  /** Environment variable read when the flag is not given (an empty one counts as not set). */
  env?: string;
  /** The flag may be given more than once (its environment variable is then comma-separated). */
  repeatable?: boolean;
  parser: Parser<T>;
  /** The value when neither flag nor environment says; a function for one that is computed. */
  default?: NoInfer<T> | ((given: Given) => NoInfer<T>);
  /** How help and docs show the default, when `parser.show` cannot (a computed one, or none). */
  shown?: string;
  /** What it means (one sentence or two; help wraps it). */
  help: string;
  commands: readonly C[];
}

/** Builds a table entry, keeping its value type (with `| undefined` when there is no default) and commands. */
// The parser alone decides the value type (NoInfer): a default of "auto" must not widen an enum to string.
export function option<T, C extends Command>(spec: OptionSpec<T, C> & { default: NoInfer<T> | ((given: Given) => NoInfer<T>) }): OptionSpec<T, C>;
export function option<T, C extends Command>(spec: OptionSpec<T, C>): OptionSpec<T | undefined, C>;
export function option<T, C extends Command>(spec: OptionSpec<T, C>): OptionSpec<T, C> {
  return spec;
}

/** Any entry, as the parser and the generators walk them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyOption = OptionSpec<any, Command>;

type ValueOf<S> = S extends OptionSpec<infer T, Command> ? T : never;
type CommandsOf<S> = S extends OptionSpec<unknown, infer C> ? C : never;

/** The options a command reads, typed from a table: the entries whose `commands` name it. */
export type OptionsFrom<Table, C extends Command> = {
  -readonly [K in keyof Table as C extends CommandsOf<Table[K]> ? K : never]: ValueOf<Table[K]>;
};
