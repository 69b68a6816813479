import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { browserSkip, isCi } from "./helpers/browser.js";
import { root } from "./helpers/paths.js";

const read = (path: string): string => readFileSync(join(root, path), "utf8");
/** The lines of a shell script that run something (comments and echoed messages left out). */
const commands = (text: string): string[] => text.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#") && !l.startsWith("echo "));

describe("chromium for the browser test: installed only on purpose, never skipped in CI", () => {
  it("npm test installs nothing with apt-get: scripts/setup.sh has no apt-get, and the test script runs no browser setup", () => {
    const scripts = (JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts;
    assert.doesNotMatch(scripts.test!, /setup-browser|setup:browser|apt-get/);
    assert.deepEqual(commands(read("scripts/setup.sh")).filter((l) => /apt-get/.test(l)), [],
      "scripts/setup.sh (run by npm test and npm start) must not install chromium");
  });

  it("npm run setup:browser installs chromium alone, without recommends", () => {
    const scripts = (JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts;
    assert.equal(scripts["setup:browser"], "bash scripts/setup-browser.sh");
    const installs = commands(read("scripts/setup-browser.sh")).filter((l) => /install/.test(l) && /apt-get/.test(l));
    assert.ok(installs.length > 0);
    for (const l of installs) assert.match(l, /--no-install-recommends/);
  });

  it(".ci/run installs chromium through that script and sets CI=true before npm test", () => {
    const ci = commands(read(".ci/run"));
    const setup = ci.indexOf("bash scripts/setup-browser.sh");
    const exported = ci.indexOf("export CI=true");
    assert.ok(setup >= 0 && exported >= 0, ".ci/run runs scripts/setup-browser.sh and exports CI=true");
    assert.ok(setup < ci.indexOf("npm test") && exported < ci.indexOf("npm test"));
    assert.ok(!ci.some((l) => /need\+=\(chromium\)/.test(l)), "no chromium with recommends among the other apt packages");
  });

  it("without chromium the test skips naming npm run setup:browser, except in CI, where it runs (and fails)", () => {
    const missing = "/nonexistent/chromium";
    assert.match(String(browserSkip({}, missing)), /SKIPPED; install it with: npm run setup:browser/);
    assert.equal(browserSkip({ CI: "true" }, missing), false, "in CI the test is never skipped");
    assert.equal(isCi({ CI: "false" }), false);
    assert.equal(isCi({ CI: "1" }), true);
  });
});
