import { createWriteStream, type WriteStream } from "node:fs";
import { once } from "node:events";
import { parseArgs } from "node:util";
import { Table, tableFromIPC, tableToIPC } from "apache-arrow";
import cliProgress from "cli-progress";
import { LogPagingHeaders, MediaTypes } from "@ferry/contracts";
import { writeFile } from "node:fs/promises";

export const logsUsage = `ferry logs: print or export a site's inference logs (through its HTTP API)

Usage:
  ferry logs [--url URL] [--pipeline NAME] [--start TIME] [--end TIME] [--order asc|desc] [--limit N] [--out FILE]

  --url URL         the site's gateway (env FERRY_URL; default http://localhost:8080)
  --pipeline NAME   only this pipeline's records
  --start, --end    time range (RFC 3339 or ms since the epoch)
  --order asc|desc  oldest or newest first (default asc: from --start, or the whole store)
  --limit N         stop after N records
  --page-size N     records per request (default 1000)
  --out FILE        write FILE.json (pandas-records) or FILE.arrow (Arrow IPC) with a progress bar;
                    without it, records print to stdout, one JSON object a line
`;

interface Fetched { body: Uint8Array; cursor: string | null; status: string | null }

async function fetchPage(url: string, params: Record<string, unknown>, arrow: boolean): Promise<Fetched> {
  const res = await fetch(`${url}/logs`, {
    method: "POST",
    body: JSON.stringify(params),
    headers: { "Content-Type": "application/json", Accept: arrow ? MediaTypes.arrowFile : MediaTypes.pandasRecords },
  });
  const body = new Uint8Array(await res.arrayBuffer());
  if (!res.ok) throw new Error(`POST /logs answered ${res.status}: ${new TextDecoder().decode(body)}`);
  return { body, cursor: res.headers.get(LogPagingHeaders.cursor), status: res.headers.get(LogPagingHeaders.status) };
}

/** Runs `ferry logs`; resolves to the exit code. */
export async function logsCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: "string" }, pipeline: { type: "string" }, start: { type: "string" }, end: { type: "string" },
      order: { type: "string" }, limit: { type: "string" }, "page-size": { type: "string" }, out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(logsUsage);
    return 0;
  }
  const url = (values.url ?? env.FERRY_URL ?? "http://localhost:8080").replace(/\/$/, "");
  const limit = values.limit ? Number(values.limit) : Number.POSITIVE_INFINITY;
  const pageSize = Number(values["page-size"] ?? 1000);
  const out = values.out;
  const arrow = out?.endsWith(".arrow") ?? false;
  const params: Record<string, unknown> = {
    page_size: pageSize,
    order: values.order ?? "asc",
    ...(values.pipeline ? { pipeline: values.pipeline } : {}),
    ...(values.end ? { end_time: values.end } : {}),
    // Ascending without a start means "from the beginning" for an export.
    start_time: values.start ?? ((values.order ?? "asc").toLowerCase() === "asc" ? 0 : undefined),
  };
  const bar = out ? new cliProgress.SingleBar({ format: "exporting logs |{bar}| {value} records", stream: process.stderr }, cliProgress.Presets.shades_classic) : undefined;
  bar?.start(pageSize, 0);
  const sink = out && !arrow ? createWriteStream(out) : undefined;
  const tables: Table[] = [];
  let count = 0;
  let page = await fetchPage(url, params, arrow);
  try {
    sink?.write("[");
    for (;;) {
      const taken = arrow ? takeArrow(page.body, limit - count, tables) : await takeJson(page.body, limit - count, sink, count);
      count += taken;
      bar?.setTotal(page.status === "Continue" && count < limit ? count + pageSize : count);
      bar?.update(count);
      if (page.status !== "Continue" || count >= limit || taken === 0) break;
      page = await fetchPage(url, { cursor: page.cursor, page_size: pageSize }, arrow);
    }
    if (sink) await endStream(sink, "]\n");
    if (arrow && out) await writeFile(out, tableToIPC(tables.reduce((a, b) => a.concat(b)), "file"));
  } finally {
    bar?.stop();
  }
  if (out) process.stderr.write(`wrote ${count} records to ${out}\n`);
  return 0;
}

function takeArrow(body: Uint8Array, room: number, tables: Table[]): number {
  const t = tableFromIPC(body);
  const n = Math.min(t.numRows, room);
  if (n > 0) tables.push(n < t.numRows ? t.slice(0, n) : t);
  return n;
}

async function takeJson(body: Uint8Array, room: number, sink: WriteStream | undefined, before: number): Promise<number> {
  const records = (JSON.parse(new TextDecoder().decode(body)) as unknown[]).slice(0, Math.max(0, room));
  for (const [i, r] of records.entries()) {
    const line = JSON.stringify(r);
    if (sink) {
      if (!sink.write(`${before + i > 0 ? "," : ""}${line}`)) await once(sink, "drain");
    } else {
      process.stdout.write(`${line}\n`);
    }
  }
  return records.length;
}

async function endStream(sink: WriteStream, tail: string): Promise<void> {
  sink.end(tail);
  await once(sink, "finish");
}
