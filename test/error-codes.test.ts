import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ErrorCodes, isErrorCode } from "@ferry/contracts";
import { root } from "./helpers/paths.js";

/** The rows `| status | \`code\` | when |` of docs/http-api.md's error table, as code → status. */
function documentedCodes(): Map<string, number> {
  const text = readFileSync(join(root, "docs", "http-api.md"), "utf8");
  const table = text.slice(text.indexOf("## Errors"), text.indexOf("\n## ", text.indexOf("## Errors") + 1));
  const rows = new Map<string, number>();
  for (const m of table.matchAll(/^\| (\d{3}) \| `([a-z_]+)` \|/gm)) rows.set(m[2]!, Number(m[1]));
  return rows;
}

describe("error codes: contracts/src/errors.ts and docs/http-api.md agree", () => {
  const documented = documentedCodes();

  it("every code of ErrorCodes is in the docs' error table, under the status it is answered with", () => {
    assert.ok(documented.size > 20, "the docs' error table was found");
    for (const [code, status] of Object.entries(ErrorCodes)) {
      assert.ok(documented.has(code), `${code} (${status}) is missing from docs/http-api.md's error table`);
      assert.equal(documented.get(code), status, `${code}: answered with ${status}, documented under ${documented.get(code)}`);
    }
  });

  it("every code in the docs' error table is one of ErrorCodes", () => {
    for (const code of documented.keys()) assert.ok(isErrorCode(code), `docs/http-api.md lists ${code}, which contracts/src/errors.ts does not define`);
  });
});
