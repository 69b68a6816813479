import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import { isPermissionDenied } from "@ferry/runtime";

/** A reason not to start that waiting will not change (a server too old): `untilReady` fails at once. */
export class StartRefused extends Error {
  override readonly name = "StartRefused";
}

/** How long `ferry start` waits for NATS and JetStream by default, ms. */
export const START_WAIT_MS = 60_000;

/**
 * Runs `attempt` until it succeeds: a service started before its NATS servers (compose starts them
 * together; a cluster elects its JetStream leader only once enough servers are up) waits for them instead
 * of exiting. Refused credentials fail at once; anything else is tried again every 500 ms until `waitMs`.
 */
export async function untilReady<T>(what: string, attempt: () => Promise<T>, log: Logger, waitMs = START_WAIT_MS): Promise<T> {
  const deadline = Date.now() + waitMs;
  let waiting = false;
  for (;;) {
    try {
      const result = await attempt();
      if (waiting) log.info(`${what}: ready`);
      return result;
    } catch (err) {
      const message = (err as Error).message;
      if (err instanceof StartRefused || isPermissionDenied(err) || Date.now() >= deadline) throw err;
      if (!waiting) log.warn({ err: message, waitMs }, `waiting for ${what}`);
      waiting = true;
      await sleep(500);
    }
  }
}
