import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";

/** How to keep trying to open something that `provision` may not have created yet. */
export interface OpenRetry {
  /** What is being opened, for the log. */
  what: string;
  log: Logger;
  /** Pause between tries, ms. */
  everyMs: number;
  /** True once the caller is closing: stop trying. */
  stopped(): boolean;
  /** Told of each failure (e.g. to report it in the inferer's status), and of success (undefined). */
  report?(why: string | undefined): void;
}

/**
 * Calls `open` until it succeeds; resolves to its value, or to undefined once `stopped()`. Services
 * open JetStream assets and never create them, so a site not provisioned yet (or JetStream away) is a
 * state to wait out, reported once loudly and then quietly on each try.
 */
export async function openWhenReady<T>(open: () => Promise<T>, o: OpenRetry): Promise<T | undefined> {
  for (let tries = 0; !o.stopped(); tries++) {
    try {
      const value = await open();
      o.report?.(undefined);
      if (tries > 0) o.log.info(`${o.what}: open`);
      return value;
    } catch (err) {
      const why = (err as Error).message;
      o.report?.(why);
      if (tries === 0) o.log.warn({ err: why }, `${o.what}: not available; retrying`);
      else o.log.debug({ err: why }, `${o.what}: still not available`);
    }
    await sleep(o.everyMs, undefined, { ref: false });
  }
  return undefined;
}
