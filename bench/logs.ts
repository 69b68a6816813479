// Ferry log bench, from one run:
//   1. house-price batch-1 throughput with log records on (with `--nats-sync always`, Ferry's default, and
//      with `--nats-sync 2m`, nats-server's default) and off (alternating Ferrys, each with its own
//      nats-server and temp data dir), and a check that every answered request left one stored record;
//   2. POST /logs latency over a FERRY_LOGS stream of 1,000,000 records (filled straight over JetStream
//      in the inferer's message format), over HTTP and straight to the logger over NATS, plus the
//      JetStream calls a query makes, timed one by one.
// Run: npm run bench:logs (or node bench/dist/logs.js). Environment: BENCH_SECONDS, BENCH_WARMUP_SECONDS
// (as bench/infer.ts), BENCH_LOGS_ROUNDS (rounds of the three modes, default 3), BENCH_LOGS_RECORDS (default
// 1000000), BENCH_LOGS_REPEATS (timed queries each, default 20), BENCH_LOGS_PARTS (all, throughput or logs).
import { LogStream, logSubject } from "@ferry/contracts";
import { paths, pipelines, timing } from "./helpers/config.js";
import { cpuWindow } from "./helpers/load.js";
import { startFerry, waitForStream, withJet } from "./helpers/logs-ferry.js";
import { fillLogs, type FillResult } from "./helpers/logs-fill.js";
import { int, ms, table } from "./helpers/logs-format.js";
import { throughputPart, type ThroughputPart } from "./helpers/logs-throughput.js";
import { renderThroughput } from "./helpers/logs-throughput-report.js";
import {
  checkPage, isSorted, measurePrimitives, postLogs, requestLogs, spread, type Answer, type PageCheck, type Primitives, type Spread,
} from "./helpers/logs-query.js";
import { benchMain } from "./helpers/main.js";
import { writeReportFile } from "./helpers/report-file.js";
import { memoryOf, type Memory } from "./helpers/servers.js";
import { describeMachine, progress } from "./helpers/machine.js";


function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive whole number, got ${JSON.stringify(raw)}`);
  return n;
}

/** BENCH_LOGS_PARTS: "throughput" (part 1 only), "logs" (part 2 only) or "all". */
function partsOf(raw: string): { throughput: boolean; logs: boolean } {
  if (!["all", "throughput", "logs"].includes(raw)) throw new Error(`BENCH_LOGS_PARTS must be all, throughput or logs, got ${JSON.stringify(raw)}`);
  return { throughput: raw !== "logs", logs: raw !== "throughput" };
}

const settings = {
  rounds: envInt("BENCH_LOGS_ROUNDS", 3),
  records: envInt("BENCH_LOGS_RECORDS", 1_000_000),
  perMessage: 1000,
  inFlight: 256,
  repeats: envInt("BENCH_LOGS_REPEATS", 20),
  warmups: 2,
  /** Timed queries each straight to the logger over NATS (the slow ones make this the long part). */
  natsRepeats: Math.min(10, envInt("BENCH_LOGS_REPEATS", 20)),
  /** The range read reproduced from the bench can move hundreds of MB: a few are enough. */
  rangeRepeats: 3,
  /** Logging on (sync always) against off, 32 connections. */
  ratioTarget: 0.85,
  parts: partsOf(process.env.BENCH_LOGS_PARTS || "all"),
  latencyTargetMs: 100,
};

// ---------------------------------------------------------------------------------------------------
// Part 2: /logs over a million records

interface QueryFigure {
  name: string;
  params: Record<string, unknown>;
  http: Spread;
  nats: Spread;
  page: PageCheck;
}

interface LogsPart {
  fill: Omit<FillResult, "messageTimes">;
  firstTime: number;
  midTime: number;
  lateTime: number;
  lastTime: number;
  queries: QueryFigure[];
  primitives: Primitives;
  /** CPU over the timed HTTP queries. */
  cpu: { label: string; totalPct: number; mainPct?: number }[];
  memory: Memory[];
}

interface QueryDef {
  name: string;
  params: Record<string, unknown>;
  expect: (rows: { time: number }[], a: Answer) => string[];
}

function queryDefs(midTime: number, lateTime: number, lastTime: number, rangeCursor: string, descCursor: string, descOldest: number, rangeNewest: number): QueryDef[] {
  const full = (rows: readonly unknown[]): string[] => (rows.length === 1000 ? [] : [`${rows.length} records, not 1000`]);
  return [
    {
      name: "latest page {}", params: {},
      expect: (rows) => [...full(rows), ...(isSorted(rows, "asc") ? [] : ["not oldest-first"]), ...(rows[rows.length - 1]?.time === lastTime ? [] : ["last record is not the newest"])],
    },
    {
      name: `time range {start_time: mid, page_size: 1000}`, params: { start_time: midTime, page_size: 1000 },
      expect: (rows, a) => [
        ...full(rows), ...(rows.every((r) => r.time >= midTime) ? [] : ["records before start_time"]),
        ...(isSorted(rows, "asc") ? [] : ["not oldest-first"]), ...(a.iteration === "Continue" ? [] : [`x-iteration-status ${a.iteration}`]),
      ],
    },
    {
      name: "time range at 3/4, no publish pause", params: { start_time: lateTime, page_size: 1000 },
      expect: (rows, a) => [
        ...full(rows), ...(rows.every((r) => r.time >= lateTime) ? [] : ["records before start_time"]),
        ...(a.iteration === "Continue" ? [] : [`x-iteration-status ${a.iteration}`]),
      ],
    },
    {
      name: `desc {order: desc, page_size: 1000}`, params: { order: "desc", page_size: 1000 },
      expect: (rows, a) => [
        ...full(rows), ...(isSorted(rows, "desc") ? [] : ["not newest-first"]), ...(rows[0]?.time === lastTime ? [] : ["first record is not the newest"]),
        ...(a.iteration === "Continue" ? [] : [`x-iteration-status ${a.iteration}`]),
      ],
    },
    {
      name: "cursor after the time-range page", params: { cursor: rangeCursor, page_size: 1000 },
      expect: (rows) => [...full(rows), ...(rows.every((r) => r.time >= rangeNewest) ? [] : ["records older than the previous page"])],
    },
    {
      name: "cursor after the desc page", params: { cursor: descCursor, page_size: 1000 },
      expect: (rows) => [...full(rows), ...(rows.every((r) => r.time <= descOldest) ? [] : ["records newer than the previous page"])],
    },
  ];
}

function firstAnswer(a: Answer, what: string): { cursor: string; rows: { time: number }[] } {
  if (a.status !== 200 || !a.cursor) throw new Error(`${what} answered ${a.status} (cursor ${String(a.cursor)}): ${a.text.slice(0, 300)}`);
  return { cursor: a.cursor, rows: JSON.parse(a.text) as { time: number }[] };
}

async function logsPart(): Promise<LogsPart> {
  progress("logs: starting Ferry with --log-storage 4Gi");
  // --timeout: let a slow /logs answer come back and be measured instead of a 504 after 15 s.
  const ferry = await startFerry("logs 1M", paths.houseManifest, pipelines.house, ["--log-storage", "4Gi", "--timeout", "120000"]);
  try {
    return await withJet(ferry.natsUrl, async (jet) => {
      await waitForStream(jet.jsm);
      progress(`logs: filling ${LogStream} with ${settings.records.toLocaleString("en-US")} records (${settings.perMessage} a message, ${settings.inFlight} acked publishes in flight)`);
      const { messageTimes, ...fill } = await fillLogs(jet, {
        records: settings.records, perMessage: settings.perMessage, inFlight: settings.inFlight, subject: logSubject(pipelines.house, "bench"),
        modelName: "house-price-estimator", modelFile: paths.houseModel, pipelineVersion: "3a8f63bc-a91e-40bd-947f-da19ed849063", partition: "bench",
        barriers: [Math.floor(settings.records / settings.perMessage / 2)],
      });
      progress(`logs: filled in ${fill.seconds.toFixed(1)} s (${Math.round(fill.recordsPerS).toLocaleString("en-US")} records/s), stream ${(fill.streamBytes / 2 ** 20).toFixed(1)} MiB in ${fill.streamMessages} messages`);
      if (fill.streamMessages !== fill.messages) throw new Error(`stream holds ${fill.streamMessages} messages, ${fill.messages} were published`);
      const firstTime = messageTimes[0]!;
      const lastTime = messageTimes[messageTimes.length - 1]!;
      const midTime = messageTimes[Math.floor(messageTimes.length / 2)]!;
      const lateTime = messageTimes[Math.floor((messageTimes.length * 3) / 4)]!;
      const range = firstAnswer(await postLogs(ferry.url, { start_time: midTime, page_size: 1000 }), "time-range page");
      const desc = firstAnswer(await postLogs(ferry.url, { order: "desc", page_size: 1000 }), "desc page");
      const defs = queryDefs(midTime, lateTime, lastTime, range.cursor, desc.cursor, desc.rows[desc.rows.length - 1]?.time ?? Number.NaN, range.rows[range.rows.length - 1]?.time ?? Number.NaN);
      const http = defs.map(() => [] as number[]);
      const nats = defs.map(() => [] as number[]);
      const pages: PageCheck[] = defs.map(() => ({ records: 0, bytes: 0, firstTime: Number.NaN, lastTime: Number.NaN, iteration: null, verdict: "not run" }));
      progress(`logs: ${settings.warmups} warm-up + ${settings.repeats} timed rounds of ${defs.length} queries over HTTP`);
      const closeCpu = cpuWindow([{ label: "bench", pid: process.pid, node: true }, ...ferry.procs]);
      for (let i = 0; i < settings.warmups + settings.repeats; i++) {
        for (const [k, d] of defs.entries()) {
          const a = await postLogs(ferry.url, d.params);
          pages[k] = checkPage(a, d.expect);
          if (a.status !== 200) throw new Error(`POST /logs ${JSON.stringify(d.params)} answered ${a.status}: ${a.text.slice(0, 300)}`);
          if (i >= settings.warmups) http[k]!.push(a.ms);
        }
      }
      const cpu = await closeCpu();
      progress(`logs: ${settings.natsRepeats} timed rounds straight to the logger over NATS`);
      for (let i = 0; i < 1 + settings.natsRepeats; i++) {
        for (const [k, d] of defs.entries()) {
          const a = await requestLogs(jet, d.params);
          if (a.status !== 200) throw new Error(`ferry.logs.query ${JSON.stringify(d.params)} answered ${a.status}: ${a.text.slice(0, 300)}`);
          if (i >= 1) nats[k]!.push(a.ms);
        }
      }
      progress("logs: timing the JetStream calls one query makes");
      const primitives = await measurePrimitives(jet, midTime, settings.repeats, settings.rangeRepeats);
      return {
        fill, firstTime, midTime, lateTime, lastTime, primitives, cpu, memory: memoryOf(ferry.procs),
        queries: defs.map((d, k) => ({ name: d.name, params: d.params, http: spread(http[k]!), nats: spread(nats[k]!), page: pages[k]! })),
      };
    });
  } finally {
    await ferry.stop();
  }
}

// ---------------------------------------------------------------------------------------------------
// Report

interface Summary {
  startedAt: string;
  machine: Record<string, string | number | boolean>;
  timing: { seconds: number; warmupSeconds: number };
  settings: typeof settings;
  /** Absent when BENCH_LOGS_PARTS leaves its part out. */
  throughput?: ThroughputPart;
  logs?: LogsPart;
}

function latencyVerdict(s: Spread): string {
  const t = settings.latencyTargetMs;
  if (s.medianMs >= t) return `MISSES: median +${ms(s.medianMs - t, 0)} ms (${(s.medianMs / t).toFixed(1)}x)`;
  if (s.p95Ms >= t) return `median meets; p95 +${ms(s.p95Ms - t, 0)} ms`;
  return "meets";
}

function renderLogs(l: LogsPart): string[] {
  const f = l.fill;
  const span = (l.lastTime - l.firstTime) / 1000;
  const rows = l.queries.map((q) => [
    q.name, int(q.page.records), `${ms(q.page.bytes / 1024, 0)} KiB`, ms(q.http.medianMs), ms(q.http.p95Ms), ms(q.nats.medianMs), ms(q.nats.p95Ms),
    latencyVerdict(q.http),
    q.page.verdict,
  ]);
  const p = l.primitives;
  const step = (name: string, s: Spread): string => `${name} ${ms(s.medianMs, 2)}`;
  return [
    `2. POST /logs over ${int(f.records)} records (${int(f.messages)} messages of ${settings.perMessage} records, ${ms(f.recordBytes, 0)} B a record; ferry start --log-storage 4Gi).`,
    `   Fill (@nats-io/jetstream, acked publishes with message ids, ${settings.inFlight} in flight): ${ms(f.seconds, 1)} s = ${int(f.recordsPerS)} records/s (${int(f.messagesPerS)} messages/s);`,
    `   stream ${LogStream}: ${int(f.streamMessages)} messages, ${int(f.streamBytes)} bytes (${ms(f.streamBytes / 2 ** 20, 1)} MiB), seq ${f.firstSeq}..${f.lastSeq}.`,
    `   Record times = wall clock when a message is built (over ${ms(span, 1)} s, increasing): the logger seeks start_time by the stream's own message timestamps.`,
    `   mid = ${l.midTime} (${new Date(l.midTime).toISOString()}), the records of message ${Math.floor(f.messages / 2) + 1}; the fill waited for every ack before building it, so nothing older was stored after it.`,
    `   3/4 = ${l.lateTime}, the records of message ${Math.floor((f.messages * 3) / 4) + 1}, with ${settings.inFlight} publishes in flight around it (messages built before it may be stored after its time).`,
    `   HTTP: ${settings.repeats} timed requests each (after ${settings.warmups} warm-ups, interleaved), client-side to the full body; NATS: ${settings.natsRepeats} each, ferry.logs.query straight to the logger.`,
    "",
    table(["query", "records", "body", "HTTP med ms", "HTTP p95", "NATS med", "NATS p95", `< ${settings.latencyTargetMs} ms`, "page check"], rows),
    "",
    `CPU during the timed HTTP queries: ${l.cpu.map((c) => `${c.label} ${c.totalPct}%${c.mainPct === undefined ? "" : ` (main ${c.mainPct}%)`}`).join("; ")}`,
    `Memory at the end: ${l.memory.map((m) => `${m.label} peak ${ms(m.peakMiB, 0)} MiB`).join("; ")}`,
    "",
    "JetStream calls one query makes (log-query.ts: streams.info, then per read consumers.add, consumers.get, fetch, consumers.delete), timed from the bench, median ms:",
    `  streams.info ${ms(p.streamInfo.medianMs, 2)}`,
    `  tail read (latest / desc / desc cursor; 1 message fetched, ${int(p.tail.fetchedBytes)} B): ${[step("add", p.tail.add), step("get", p.tail.get), step("fetch", p.tail.fetch), step("delete", p.tail.del), step("total", p.tail.total)].join(", ")}`,
    `  one large fetch from the middle (consumer at start_time mid, max_messages = min(pending ${int(p.range.numPending)}, 1000), expires 5 s: what a read asks for when it estimates 1 record a message;`,
    `  ${int(p.range.fetchedMessages)} messages = ${ms(p.range.fetchedBytes / 2 ** 20, 1)} MiB delivered in the last of ${settings.rangeRepeats} runs; the bench's connection was cut ${p.range.disconnects} time(s) (slow consumer: more than the server's max_pending, 128 MiB, waiting for it)):`,
    `    ${[step("add", p.range.add), step("get", p.range.get), step("fetch", p.range.fetch), step("delete", p.range.del), step("total", p.range.total)].join(", ")}`,
  ];
}

function render(s: Summary): string {
  return [
    `Ferry log bench, ${s.startedAt}: ${Object.entries(s.machine).map(([k, v]) => `${k} ${String(v)}`).join(", ")}`,
    ...(s.throughput ? ["", ...renderThroughput(s.throughput, settings.ratioTarget)] : []),
    ...(s.logs ? ["", ...renderLogs(s.logs)] : []),
  ].join("\n");
}

function writeSummary(s: Summary): Promise<string> {
  return writeReportFile(paths.results, "logs", s);
}

async function run(): Promise<Summary> {
  const startedAt = new Date().toISOString();
  const host = await describeMachine();
  const throughput = settings.parts.throughput ? await throughputPart(settings.rounds) : undefined;
  const logs = settings.parts.logs ? await logsPart() : undefined;
  return { startedAt, machine: host, timing: { seconds: timing.seconds, warmupSeconds: timing.warmupSeconds }, settings, throughput, logs };
}

benchMain({ name: "logs", run, render, write: writeSummary });
