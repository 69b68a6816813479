// How help and docs write one option: its flag with placeholder, and its default.
import type { AnyOption } from "./option-spec.js";

/** `-p, --port N`, `--set-current`, or "" for an option read from the environment only. */
export function flagText(o: AnyOption): string {
  if (!o.flag) return "";
  return `${o.short ? `-${o.short}, ` : ""}--${o.flag}${o.arg ? ` ${o.arg}` : ""}`;
}

/** The default as a user would write it: `shown`, else the parser's form, else the value; "none" without one. */
export function defaultText(o: AnyOption): string {
  if (o.shown !== undefined) return o.shown;
  if (o.default === undefined || typeof o.default === "function") return "none";
  return o.parser.show?.(o.default) ?? String(o.default);
}
