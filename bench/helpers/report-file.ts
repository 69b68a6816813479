import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** Writes a bench's report to `<dir>/<bench>-<startedAt>.json` (colons and dots made dashes); returns the path. */
export async function writeReportFile(dir: string, bench: string, report: { startedAt: string }): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${bench}-${report.startedAt.replace(/[:.]/g, "-")}.json`);
  await writeFile(path, `${JSON.stringify(report, null, 2)}\n`);
  return path;
}
