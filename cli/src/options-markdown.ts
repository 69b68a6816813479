// docs/options.md, written from the option table (`ferry options-markdown`; test/options-doc.test.ts
// fails when the file in the repository is out of step).
import type { AnyOption } from "./option-spec.js";
import { optionTable } from "./option-table.js";
import { defaultText, flagText } from "./option-format.js";

/** A table cell: `|` would end it early, and outside code spans `<data>` would be taken for HTML. */
function cell(text: string): string {
  const escaped = text.split("`").map((part, i) => (i % 2 === 1 ? part : part.replace(/</g, "&lt;").replace(/>/g, "&gt;")));
  return escaped.join("`").replace(/\|/g, "\\|");
}
const code = (text: string): string => `\`${text}\``;

function row(o: AnyOption): string {
  const cells = [
    o.flag ? code(flagText(o)) : "(environment only)",
    o.env ? `${code(o.env)}${o.repeatable ? " (comma-separated)" : ""}` : "—",
    defaultText(o),
    o.commands.join(", "),
    o.help,
  ];
  return `| ${cells.map(cell).join(" | ")} |`;
}

/** The whole of docs/options.md. */
export function optionsMarkdown(): string {
  return [
    "# Options",
    "",
    "Every option of `ferry`: a flag, else its environment variable (an empty one counts as not set), else the default.",
    "Generated from `cli/src/option-table.ts` by `npm run docs:options`; `node cli/dist/main.js COMMAND --help` says the same.",
    "",
    "| flag | environment | default | commands (`ferry …`) | meaning |",
    "| --- | --- | --- | --- | --- |",
    ...Object.values(optionTable as Record<string, AnyOption>).map(row),
    "",
  ].join("\n");
}
