import { Empty, type NatsConnection } from "@nats-io/transport-node";
import { Subjects } from "@ferry/contracts";

/** How long `GET /metrics` collects the other services' replies, ms. */
export const METRICS_GATHER_MS = 300;

/**
 * Asks every inferer and logger (each process or thread answers `ferry.metrics`) for its metrics text
 * and collects the replies for `waitMs`: their number is unknown, so a fixed wait, as for `ferry.status`.
 */
export async function gatherMetrics(nc: NatsConnection, waitMs = METRICS_GATHER_MS): Promise<string[]> {
  const texts: string[] = [];
  try {
    const replies = await nc.requestMany(Subjects.metrics, Empty, { strategy: "timer", maxWait: waitMs });
    for await (const msg of replies) texts.push(msg.string());
  } catch {
    // no responders: nothing but the gateway runs
  }
  return texts;
}

interface Family {
  /** The `# HELP` and `# TYPE` lines, from the first exposition that had the family. */
  head: string[];
  samples: string[];
}

/**
 * Merges Prometheus text expositions into one. The text format allows one `# HELP`/`# TYPE` per metric
 * family, with all its samples together, so the families of every instance are merged by name (their
 * samples differ by the `service` and `instance` labels).
 */
export function mergeExpositions(texts: readonly string[]): string {
  const families = new Map<string, Family>();
  for (const text of texts) {
    let family: Family | undefined;
    for (const line of text.split("\n")) {
      if (line.length === 0) continue;
      const meta = /^# (HELP|TYPE) (\S+)/.exec(line);
      if (meta) {
        const name = meta[2]!;
        family = families.get(name);
        if (!family) families.set(name, (family = { head: [], samples: [] }));
        // The first HELP and TYPE of a family are kept; a family announced again just collects samples.
        if (!family.head.some((h) => h.startsWith(`# ${meta[1]!} `))) family.head.push(line);
      } else if (!line.startsWith("#") && family) {
        family.samples.push(line);
      }
    }
  }
  let out = "";
  for (const f of families.values()) out += `${[...f.head, ...f.samples].join("\n")}\n\n`;
  return out;
}
