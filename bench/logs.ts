// Ferry log bench, from one run:
//   1. house-price batch-1 throughput with log records on and off (alternating Ferrys, each with its own
//      nats-server and temp data dir), and a check that every answered request left one stored record;
//   2. POST /logs latency over a FERRY_LOGS stream of 1,000,000 records (filled straight over JetStream
//      in the inferer's message format), over HTTP and straight to the logger over NATS, plus the
//      JetStream calls a query makes, timed one by one.
// Run: npm run bench:logs (or node bench/dist/logs.js). Environment: BENCH_SECONDS, BENCH_WARMUP_SECONDS
// (as bench/infer.ts), BENCH_LOGS_ROUNDS (on/off pairs, default 3), BENCH_LOGS_RECORDS (default 1000000),
// BENCH_LOGS_REPEATS (timed queries each, default 20).
import { LogStream, logSubject } from "@ferry/contracts";
import { concurrencies, houseBody, houseHeaders, paths, pipelines, timing } from "./helpers/config.js";
import { cpuWindow, type HttpRun } from "./helpers/load.js";
import { connectJet, countViaHttp, countViaNats, startFerry, waitForQuietStream, waitForStream, type Ferry, type Jet } from "./helpers/logs-ferry.js";
import { fillLogs, type FillResult } from "./helpers/logs-fill.js";
import { measureCounted } from "./helpers/logs-load.js";
import {
  checkPage, isSorted, measurePrimitives, postLogs, requestLogs, spread, type Answer, type PageCheck, type Primitives, type Spread,
} from "./helpers/logs-query.js";
import { checkReply } from "./helpers/probe.js";
import { benchMain } from "./helpers/main.js";
import { writeReportFile } from "./helpers/report-file.js";
import { memoryOf, type Memory } from "./helpers/servers.js";
import { median } from "./helpers/stats.js";
import { describeMachine, progress } from "./helpers/machine.js";


function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive whole number, got ${JSON.stringify(raw)}`);
  return n;
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
  ratioTarget: 0.9,
  latencyTargetMs: 100,
};

// ---------------------------------------------------------------------------------------------------
// Machine



// ---------------------------------------------------------------------------------------------------
// Part 1: throughput with log records on vs off

type Mode = "on" | "off";

interface ModeRun {
  round: number;
  mode: Mode;
  run: HttpRun;
}

interface RecordCheck {
  round: number;
  /** 2xx replies to POST /infer over the Ferry's life (check request, warm-ups and measured windows). */
  answered: number;
  /** Requests written (answered ones plus those in flight when autocannon stopped). */
  sent: number;
  storedViaLogs: number;
  logsPages: number;
  logsCountMs: number;
  storedViaNats: number;
  streamMessages: number;
  streamBytes: number;
  verdict: string;
}

interface ModeMedian {
  connections: number;
  /** Runs the medians are over: all, or only those where other processes used <= 20% of a core. */
  runs: "all" | "quiet";
  onRuns: number;
  offRuns: number;
  onRps: number;
  offRps: number;
  ratio: number;
  onP50Ms: number;
  offP50Ms: number;
}

interface ThroughputPart {
  runs: ModeRun[];
  medians: ModeMedian[];
  checks: RecordCheck[];
  /** Stream messages left by the "off" Ferrys (should be 0). */
  offStored: number[];
  checkValues: (number | undefined)[];
  memory: { round: number; mode: Mode; memory: Memory[] }[];
}

/** Above this share of one core used by other processes during a run, the run is marked NOISY. */
const noisyPct = 20;

function otherPct(r: HttpRun): number {
  return r.cpu.find((c) => c.label === "other processes")?.totalPct ?? Number.NaN;
}

async function withJet<T>(natsUrl: string, body: (jet: Jet) => Promise<T>): Promise<T> {
  const jet = await connectJet(natsUrl);
  try {
    return await body(jet);
  } finally {
    await jet.nc.close();
  }
}

function verdictOf(answered: number, sent: number, viaLogs: number, viaNats: number): string {
  if (viaLogs !== viaNats) return `MISMATCH: /logs paging ${viaLogs} vs stream headers ${viaNats}`;
  if (viaLogs === answered) return "ok: stored = answered";
  if (viaLogs > answered && viaLogs <= sent) return `ok: ${viaLogs - answered} more stored than answered (requests in flight when the load stopped: answered by Ferry, not read by autocannon)`;
  if (viaLogs < answered) return `MISSING ${answered - viaLogs} records`;
  return `EXTRA ${viaLogs - sent} records beyond the requests sent`;
}

async function runMode(round: number, mode: Mode, part: ThroughputPart): Promise<void> {
  progress(`round ${round}, log records ${mode}: starting Ferry`);
  const ferry: Ferry = await startFerry(`log records ${mode}`, paths.houseManifest, pipelines.house, ["--log-records", mode]);
  try {
    const url = `${ferry.url}/infer`;
    part.checkValues.push(await checkReply(url, houseBody, houseHeaders));
    let answered = 1;
    let sent = 1;
    for (const connections of concurrencies) {
      progress(`round ${round}, log records ${mode}: ${connections} connection(s), ${timing.warmupSeconds} s warm-up + ${timing.seconds} s`);
      const c = await measureCounted({ url, body: houseBody, headers: houseHeaders, connections, seconds: timing.seconds, warmupSeconds: timing.warmupSeconds, procs: ferry.procs });
      part.runs.push({ round, mode, run: c.run });
      answered += c.ok;
      sent += c.sent;
    }
    part.memory.push({ round, mode, memory: memoryOf(ferry.procs) });
    await withJet(ferry.natsUrl, async (jet) => {
      await waitForStream(jet.jsm);
      await waitForQuietStream(jet.jsm);
      const viaNats = await countViaNats(jet);
      if (mode === "off") {
        part.offStored.push(viaNats.messages);
        return;
      }
      progress(`round ${round}: counting stored records (POST /logs pages of 10,000, and the stream's Ferry-Records headers)`);
      const viaLogs = await countViaHttp(ferry.url);
      part.checks.push({
        round, answered, sent, storedViaLogs: viaLogs.records, logsPages: viaLogs.pages, logsCountMs: viaLogs.ms,
        storedViaNats: viaNats.records, streamMessages: viaNats.messages, streamBytes: viaNats.bytes,
        verdict: verdictOf(answered, sent, viaLogs.records, viaNats.records),
      });
    });
  } finally {
    await ferry.stop();
  }
}

async function throughputPart(): Promise<ThroughputPart> {
  const part: ThroughputPart = { runs: [], medians: [], checks: [], offStored: [], checkValues: [], memory: [] };
  for (let round = 1; round <= settings.rounds; round++) {
    for (const mode of ["on", "off"] as const) await runMode(round, mode, part);
  }
  for (const runs of ["all", "quiet"] as const) {
    for (const connections of concurrencies) {
      const of = (mode: Mode): HttpRun[] => part.runs
        .filter((r) => r.mode === mode && r.run.connections === connections && (runs === "all" || otherPct(r.run) <= noisyPct))
        .map((r) => r.run);
      const onRps = median(of("on").map((r) => r.rps));
      const offRps = median(of("off").map((r) => r.rps));
      part.medians.push({
        connections, runs, onRuns: of("on").length, offRuns: of("off").length, onRps, offRps, ratio: onRps / offRps,
        onP50Ms: median(of("on").map((r) => r.latency.p50Ms)), offP50Ms: median(of("off").map((r) => r.latency.p50Ms)),
      });
    }
  }
  return part;
}

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
  throughput: ThroughputPart;
  logs: LogsPart;
}

const int = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "-");
const ms = (x: number, digits = 1): string => (Number.isFinite(x) ? x.toFixed(digits) : "-");

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ").trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

function cpuOf(r: HttpRun, label: string): string {
  const c = r.cpu.find((x) => x.label.startsWith(label));
  if (!c) return "-";
  return c.mainPct === undefined ? `${c.totalPct}%` : `${c.totalPct}% (main ${c.mainPct}%)`;
}

function renderThroughput(t: ThroughputPart): string[] {
  const rows = t.runs.map((m) => [
    `${m.round}`, m.mode, String(m.run.connections), int(m.run.rps), ms(m.run.latency.p50Ms, 3), ms(m.run.latency.p99Ms, 3),
    String(m.run.errors + m.run.non2xx + m.run.timeouts), cpuOf(m.run, "ferry"), cpuOf(m.run, "nats-server"), cpuOf(m.run, "bench"),
    `${cpuOf(m.run, "other")}${otherPct(m.run) > noisyPct ? " NOISY" : ""}`,
  ]);
  const medians = t.medians.map((m) => {
    const verdict = !Number.isFinite(m.ratio) ? "" : m.connections === 32 ? (m.ratio >= settings.ratioTarget ? `meets the >= ${settings.ratioTarget}x target` : `BELOW the ${settings.ratioTarget}x target by ${((settings.ratioTarget - m.ratio) * 100).toFixed(1)} points`) : "";
    const which = m.runs === "all" ? "all runs  " : `quiet runs`;
    return `  ${which} conc ${String(m.connections).padStart(2)} (${m.onRuns} on, ${m.offRuns} off): median on ${int(m.onRps)} req/s, off ${int(m.offRps)} req/s -> on/off ${Number.isFinite(m.ratio) ? m.ratio.toFixed(3) : "-"}x  (p50 ${ms(m.onP50Ms, 3)} vs ${ms(m.offP50Ms, 3)} ms)  ${verdict}`;
  });
  const pairs = concurrencies.map((connections) => {
    const ratios = Array.from({ length: settings.rounds }, (_, i) => {
      const get = (mode: Mode): HttpRun | undefined => t.runs.find((r) => r.round === i + 1 && r.mode === mode && r.run.connections === connections)?.run;
      const on = get("on");
      const off = get("off");
      return on && off ? (on.rps / off.rps).toFixed(2) : "-";
    });
    return `  conc ${String(connections).padStart(2)}: on/off per round ${ratios.join(", ")}`;
  });
  const checks = t.checks.map((c) => [
    String(c.round), int(c.answered), int(c.sent), int(c.storedViaLogs), `${c.logsPages} / ${ms(c.logsCountMs / 1000, 1)} s`, int(c.storedViaNats),
    int(c.streamMessages), ms(c.streamMessages > 0 ? c.storedViaNats / c.streamMessages : Number.NaN, 0), c.verdict,
  ]);
  return [
    `1. Inference with log records on vs off: house price, batch 1, pandas-records POST /infer; ${timing.seconds} s per run after ${timing.warmupSeconds} s warm-up;`,
    "   each run a fresh `ferry start --pipeline houseprice.json --log-records on|off` with its own nats-server and temp data dir; alternating on, off.",
    "   CPU = % of one core over the measured window (main = JS main thread); other = processes outside the bench (NOISY above 20%).",
    `   Prediction check: ${t.checkValues.map(String).join(", ")}`,
    "",
    table(["round", "mode", "conc", "req/s", "p50 ms", "p99 ms", "err", "ferry CPU", "nats-server CPU", "autocannon CPU", "other"], rows),
    "",
    `Medians per mode (all runs, and only runs where other processes used <= ${noisyPct}% of a core):`,
    ...medians,
    ...pairs,
    "",
    "Stored log records after each \"on\" run (answered = 2xx replies incl. warm-ups and the check request; sent = requests written):",
    table(["round", "answered", "sent", "stored (/logs)", "pages / time", "stored (NATS)", "messages", "rec/msg", "verdict"], checks),
    `"off" runs left ${t.offStored.join(", ")} stream message(s).`,
  ];
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
    "",
    ...renderThroughput(s.throughput),
    "",
    ...renderLogs(s.logs),
  ].join("\n");
}

function writeSummary(s: Summary): Promise<string> {
  return writeReportFile(paths.results, "logs", s);
}

async function run(): Promise<Summary> {
  const startedAt = new Date().toISOString();
  const host = await describeMachine();
  const throughput = await throughputPart();
  const logs = await logsPart();
  return { startedAt, machine: host, timing: { seconds: timing.seconds, warmupSeconds: timing.warmupSeconds }, settings, throughput, logs };
}

benchMain({ name: "logs", run, render, write: writeSummary });
