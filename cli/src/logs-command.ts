import { createWriteStream, type WriteStream } from "node:fs";
import { once } from "node:events";
import { Table, tableFromIPC, tableToIPC } from "apache-arrow";
import cliProgress from "cli-progress";
import { LogPagingHeaders, MediaTypes } from "@ferry/contracts";
import { writeFile } from "node:fs/promises";
import type { LogsOptions } from "./options.js";

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

/** The first page's query: ascending without a start means "from the beginning" for an export. */
function firstQuery(o: LogsOptions): Record<string, unknown> {
  return {
    page_size: o.pageSize,
    order: o.order,
    ...(o.pipeline ? { pipeline: o.pipeline } : {}),
    ...(o.endTime ? { end_time: o.endTime } : {}),
    start_time: o.startTime ?? (o.order === "asc" ? 0 : undefined),
  };
}

/** Runs `ferry logs`; resolves to the exit code. */
export async function logsCommand(o: LogsOptions): Promise<number> {
  const url = o.url.replace(/\/$/, "");
  const limit = o.limit ?? Number.POSITIVE_INFINITY;
  const { pageSize, out } = o;
  const arrow = out?.endsWith(".arrow") ?? false;
  const params = firstQuery(o);
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
