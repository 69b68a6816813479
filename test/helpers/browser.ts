import { existsSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";

/** Debian's chromium (`apt-get install -y chromium`); playwright-core drives it and downloads no browser of its own. */
export const CHROMIUM = "/usr/bin/chromium";

/** Whether this is CI (`CI` set, as CI services and .ci/run set it, to anything but "false" or "0"). */
export function isCi(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.CI !== undefined && env.CI !== "" && env.CI !== "false" && env.CI !== "0";
}

/**
 * Why browser tests cannot run: false when they can. Without chromium they are skipped on a developer's
 * machine, loudly, naming the command that installs it; in CI they run (and fail without chromium), since
 * .ci/run installs it.
 */
export function browserSkip(env: NodeJS.ProcessEnv = process.env, chromium = CHROMIUM): string | false {
  if (existsSync(chromium) || isCi(env)) return false;
  const why = `${chromium} is missing, so the dashboard's browser test is SKIPPED; install it with: npm run setup:browser`;
  process.stderr.write(`\n*** ${why} ***\n\n`);
  return why;
}

/** Headless chromium; `--no-sandbox` because tests run as root. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: npm run setup:browser installs it (CI must run it: .ci/run does)`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
}

/** A page and what it did: every URL it requested, and every console error or uncaught exception. */
export interface WatchedPage {
  page: Page;
  requests: string[];
  errors: string[];
}

/** Opens a page that records its requests and errors from the start. */
export async function watchedPage(browser: Browser): Promise<WatchedPage> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  const requests: string[] = [];
  const errors: string[] = [];
  page.on("request", (r) => { requests.push(r.url()); });
  page.on("console", (m) => { if (m.type() === "error") errors.push(`${m.text()} (${m.location().url})`); });
  page.on("pageerror", (e) => { errors.push(`uncaught: ${e.message}`); });
  return { page, requests, errors };
}
