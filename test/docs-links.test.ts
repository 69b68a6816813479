import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { describe, it } from "node:test";
import { root } from "./helpers/paths.js";

/**
 * Pages that another change generates; a link to one is accepted while it is missing. Once the file is in
 * the repository its links are checked like any other.
 */
const generatedElsewhere = new Set(["docs/options.md"]);

/** README.md and every Markdown file under docs/, as paths relative to the repository root. */
function pages(): string[] {
  const found = ["README.md"];
  const walk = (dir: string): void => {
    for (const name of readdirSync(join(root, dir)).sort()) {
      const path = `${dir}/${name}`;
      if (statSync(join(root, path)).isDirectory()) walk(path);
      else if (name.endsWith(".md")) found.push(path);
    }
  };
  if (existsSync(join(root, "docs"))) walk("docs");
  return found;
}

/** The text outside fenced code blocks, one entry per line (code lines become empty, so numbers stay right). */
function proseLines(text: string): string[] {
  let fenced = false;
  return text.split("\n").map((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      return "";
    }
    return fenced ? "" : line;
  });
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, each space a hyphen. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
}

/** The anchors a Markdown page defines (duplicates get -1, -2, … as on GitHub). */
function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of proseLines(text)) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = slug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

interface Link { page: string; line: number; target: string }

/** Every inline link and reference definition of a page, outside code. */
function linksOf(page: string, text: string): Link[] {
  const links: Link[] = [];
  proseLines(text).forEach((raw, i) => {
    const line = raw.replace(/`[^`]*`/g, "");
    for (const m of line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) links.push({ page, line: i + 1, target: m[1]! });
    const def = /^\s*\[[^\]]+\]:\s*<?(\S+?)>?(\s|$)/.exec(line);
    if (def) links.push({ page, line: i + 1, target: def[1]! });
  });
  return links;
}

/** What is wrong with a link, or undefined. */
function problem(link: Link, texts: Map<string, string>): string | undefined {
  const { page, target } = link;
  if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("//")) return "points outside the repository";
  const hash = target.indexOf("#");
  const pathPart = hash < 0 ? target : target.slice(0, hash);
  const anchor = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
  const absolute = pathPart === "" ? join(root, page) : resolve(root, dirname(page), decodeURIComponent(pathPart));
  const rel = relative(root, absolute).split(sep).join("/");
  if (rel.startsWith("..") || resolve(absolute) === resolve(root, "..")) return "points outside the repository";
  if (!existsSync(absolute)) return generatedElsewhere.has(rel) ? undefined : `${rel} does not exist`;
  if (anchor === undefined || !rel.endsWith(".md")) return undefined;
  const text = texts.get(rel) ?? readFileSync(absolute, "utf8");
  return anchorsOf(text).has(anchor) ? undefined : `${rel} has no heading for #${anchor}`;
}

describe("README.md and docs/ link only inside the repository", () => {
  const texts = new Map(pages().map((p) => [p, readFileSync(join(root, p), "utf8")]));

  it("finds the README and the docs", () => {
    assert.ok(texts.has("README.md"));
    assert.ok(texts.has("docs/README.md"), "docs/README.md, the index of the docs");
  });

  it("every relative link points to a file (and heading) that exists", () => {
    const broken: string[] = [];
    for (const [page, text] of texts) {
      for (const link of linksOf(page, text)) {
        const why = problem(link, texts);
        if (why) broken.push(`${page}:${link.line}: (${link.target}) ${why}`);
      }
    }
    assert.deepEqual(broken, []);
  });

  it("nothing refers to files beside the repository (../shared)", () => {
    const found: string[] = [];
    for (const [page, text] of texts) {
      text.split("\n").forEach((line, i) => {
        if (/\.\.\/shared\b|\/work\/shared\b/.test(line)) found.push(`${page}:${i + 1}: ${line.trim()}`);
      });
    }
    assert.deepEqual(found, []);
  });

  it("every page under docs/ is listed in docs/README.md", () => {
    const index = texts.get("docs/README.md") ?? "";
    const listed = new Set(linksOf("docs/README.md", index).map((l) => l.target.split("#")[0]));
    const missing = [...texts.keys()].filter((p) => p.startsWith("docs/") && p !== "docs/README.md")
      .map((p) => p.slice("docs/".length)).filter((p) => !listed.has(p));
    assert.deepEqual(missing, []);
  });
});
