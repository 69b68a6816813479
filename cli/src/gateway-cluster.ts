import cluster from "node:cluster";
import type { Logger } from "pino";

/**
 * `ferry start gateway --gateways N`: N gateway processes behind one port (node:cluster; the primary
 * hands out connections). The gateway holds no state, so any process can take any request. Resolves
 * once the primary has stopped its workers (on SIGINT/SIGTERM); workers return false and go on to
 * start their gateway.
 */
export async function runGatewayPrimary(workers: number, log: Logger): Promise<boolean> {
  if (!cluster.isPrimary) return false;
  let stopping = false;
  const fork = (): void => {
    cluster.fork().once("exit", (code, signal) => {
      if (stopping) return;
      log.error({ code, signal }, "a gateway process ended; starting another");
      fork();
    });
  };
  for (let i = 0; i < workers; i++) fork();
  log.info({ workers }, "gateway processes started");
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, "stopping gateway processes");
      const all = Object.values(cluster.workers ?? {}).filter((w) => w !== undefined);
      let left = all.length;
      if (left === 0) resolve();
      for (const w of all) {
        w.once("exit", () => { if (--left === 0) resolve(); });
        w.process.kill("SIGTERM");
      }
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  return true;
}
