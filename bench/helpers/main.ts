// The one main() of every bench: run it, print its report and where its JSON went, exit 0 when it
// passed, 1 when it did not or failed, 130 on Ctrl-C; never leave servers, children or temp dirs behind.
import { Cleanup, stopAllChildren } from "./procs.js";

/** One bench, as its main() needs it. */
export interface Bench<S> {
  /** Its npm script's name after `bench:` (for the failure line). */
  name: string;
  /** Measures; steps deferred on `cleanup` (or any Cleanup) run once it ends, however it ends. */
  run(cleanup: Cleanup): Promise<S>;
  /** The report printed at the end. */
  render(summary: S): string;
  /** Writes the JSON summary; resolves to its path. */
  write(summary: S): Promise<string>;
  /** Whether the measurements pass (exit 0); default: they do. */
  passed?(summary: S): boolean;
  /**
   * Stop the Ferry children before the cleanup steps: for benches whose children drain through a
   * nats-server a cleanup step stops. Default false: cleanup first (children then stop on their own).
   */
  childrenFirst?: boolean;
}

/** Runs `bench` as the process's main and exits with its code. */
export function benchMain<S>(bench: Bench<S>): void {
  main(bench).then((code) => process.exit(code), (err: unknown) => {
    process.stderr.write(`bench:${bench.name} failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}

async function main<S>(bench: Bench<S>): Promise<number> {
  const cleanup = new Cleanup();
  const stopEverything = bench.childrenFirst
    ? async (): Promise<void> => { await stopAllChildren(); await cleanup.run(); await Cleanup.runAll(); }
    : async (): Promise<void> => { await cleanup.run(); await Cleanup.runAll(); await stopAllChildren(); };
  // Ctrl-C must not leave servers or temp dirs behind.
  const onSignal = (): void => void stopEverything().finally(() => process.exit(130));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const summary = await bench.run(cleanup);
    process.stdout.write(`\n${bench.render(summary)}\n`);
    process.stdout.write(`\nJSON: ${await bench.write(summary)}\n`);
    return (bench.passed?.(summary) ?? true) ? 0 : 1;
  } finally {
    await stopEverything();
  }
}
