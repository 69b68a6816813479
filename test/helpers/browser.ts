import { existsSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";

/** Debian's chromium (`apt-get install -y chromium`); playwright-core drives it and downloads no browser of its own. */
export const CHROMIUM = "/usr/bin/chromium";

/**
 * Why browser tests cannot run: false when they can. Without chromium they are skipped on a developer's
 * machine (with this message) but fail in CI (`CI` set), where .ci/run installs it.
 */
export function browserSkip(): string | false {
  if (existsSync(CHROMIUM) || process.env.CI) return false;
  return `${CHROMIUM} is missing, so the dashboard's browser test is skipped (install it with: apt-get install -y chromium; npm test does when root)`;
}

/** Headless chromium; `--no-sandbox` because tests run as root. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
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
