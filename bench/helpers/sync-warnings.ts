// Warnings and errors of bench/sync.ts's servers and hub services, kept for the report: nats-server
// log lines at [WRN]/[ERR]/[FTL] and pino lines at warn or above, grouped with their numbers masked.
import { pino, type Logger } from "pino";

/** One kind of warning: an example line and how often lines of its kind came. */
export interface WarningKind {
  who: string;
  example: string;
  count: number;
}

const natsLevel = /\[(WRN|ERR|FTL)\]/;

/** Collects warnings by kind (a line with its digits masked), first example kept. */
export class Warnings {
  readonly #kinds = new Map<string, WarningKind>();

  /** A sink for nats-server log lines (startNatsServer's `log`) of `who`. */
  natsSink(who: string): (line: string) => void {
    return (line) => {
      const level = natsLevel.exec(line);
      if (level) this.#add(who, line.slice(level.index));
    };
  }

  /**
   * A pino logger for the hub's services. Its level is debug because Ops logs its nats-server's lines at
   * debug (as `{nats: line}`); only warnings and errors are kept.
   */
  logger(who: string): Logger {
    return pino({ level: "debug" }, {
      write: (text: string) => {
        const entry = JSON.parse(text) as { level: number; msg?: string; nats?: string; err?: { message?: string } };
        if (typeof entry.nats === "string") this.natsSink(`${who} nats-server`)(entry.nats);
        else if (entry.level >= 40) this.#add(who, [entry.msg, entry.err?.message].filter(Boolean).join(": "));
      },
    });
  }

  #add(who: string, line: string): void {
    const key = `${who}\u0000${line.replace(/\d+/g, "#")}`;
    const kind = this.#kinds.get(key);
    if (kind) kind.count++;
    else this.#kinds.set(key, { who, example: line.slice(0, 300), count: 1 });
  }

  /** Every kind seen so far, and clears them (each round reports its own). */
  take(): WarningKind[] {
    const kinds = [...this.#kinds.values()];
    this.#kinds.clear();
    return kinds;
  }
}
