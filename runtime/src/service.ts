/** What every Ferry service's `start()` resolves to. */
export interface Service {
  /** Which service this is, for logs. */
  readonly name: string;
  /** Stops taking work, finishes what is in flight, drains NATS and releases native resources. */
  stop(): Promise<void>;
  /** Settles once the service has stopped, whoever stopped it. */
  readonly stopped: Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Wraps a stop function into a Service: `stop()` runs it once; `stopped` settles when it has run. */
export function serviceOf<T extends object>(name: string, stop: () => Promise<void>, extra: T): Service & T {
  let resolveStopped!: () => void;
  const stopped = new Promise<void>((res) => { resolveStopped = res; });
  let stopping: Promise<void> | undefined;
  const stopOnce = (): Promise<void> => (stopping ??= stop().finally(resolveStopped));
  return Object.assign(extra, { name, stop: stopOnce, stopped, [Symbol.asyncDispose]: stopOnce });
}
