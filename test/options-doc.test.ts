import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Commands, commandUsage, optionTable, optionsMarkdown, usage } from "@ferry/cli";
import { root } from "./helpers/paths.js";

const cli = join(root, "cli", "dist", "main.js");
const options = Object.values(optionTable) as { flag?: string; short?: string; env?: string; commands: readonly string[] }[];

describe("docs/options.md and --help, from the option table", () => {
  it("docs/options.md is what the table makes (else: npm run docs:options)", () => {
    const doc = readFileSync(join(root, "docs", "options.md"), "utf8");
    assert.equal(doc, optionsMarkdown(), "docs/options.md is out of step with cli/src/option-table.ts: run `npm run docs:options`");
    const r = spawnSync(process.execPath, [cli, "options-markdown"], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, doc);
  });

  it("the docs list every flag and environment variable", () => {
    const doc = optionsMarkdown();
    for (const o of options) {
      if (o.flag) assert.ok(doc.includes(`--${o.flag}`), `docs lack --${o.flag}`);
      if (o.env) assert.ok(doc.includes(`\`${o.env}\``), `docs lack ${o.env}`);
    }
  });

  it("each command's help lists exactly its flags; no command takes a flag, alias or variable twice", () => {
    for (const command of Commands) {
      const mine = options.filter((o) => o.commands.includes(command));
      for (const key of ["flag", "short", "env"] as const) {
        const names = mine.map((o) => o[key]).filter(Boolean);
        assert.equal(new Set(names).size, names.length, `${command}: a ${key} appears twice`);
      }
      const help = commandUsage(command).split("\nOptions")[1] ?? "";
      const taken = new Set(mine.map((o) => o.flag));
      for (const flag of new Set(options.map((o) => o.flag))) {
        if (!flag) continue;
        const listed = new RegExp(`--${flag}(?![\\w-])`).test(help);
        assert.equal(listed, taken.has(flag), `ferry ${command} --help ${listed ? "lists" : "lacks"} --${flag}`);
      }
    }
  });

  it("`ferry --help` lists the commands and `ferry start`'s and `ferry start ops`'s options; `ferry start --help` only start's", () => {
    const general = spawnSync(process.execPath, [cli, "--help"], { encoding: "utf8" });
    assert.equal(general.status, 0);
    assert.equal(general.stdout, usage());
    for (const word of ["ferry start nats", "ferry deploy", "ferry logs", "--ops-port", "FERRY_OPS_PORT", "--workers", "LOCAL_INFERENCE_STORAGE"]) {
      assert.ok(general.stdout.includes(word), `help lacks ${word}`);
    }
    const start = spawnSync(process.execPath, [cli, "start", "--help"], { encoding: "utf8" });
    assert.equal(start.status, 0);
    assert.ok(start.stdout.includes("--workers") && !start.stdout.includes("--ops-port"));
    const logs = spawnSync(process.execPath, [cli, "logs", "--help"], { encoding: "utf8" });
    assert.ok(logs.stdout.includes("--page-size") && !logs.stdout.includes("--workers"));
  });
});
