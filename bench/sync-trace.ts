// npm run bench:sync-trace: does an acknowledged JetStream write reach the disk before its ack?
// Runs the nats-server Ferry spawns under strace (every thread: writes, fsync, fdatasync), publishes
// acknowledged messages one at a time, then reads the trace: for each message, the block-file write
// that holds it, the socket write that carries its ack, and whether an fsync/fdatasync of that block
// file came in between. Once with `sync_interval: always` (Ferry's default), once with nats-server's
// own default (2m). This machine cannot cut its own power; the trace shows what a power cut would find.
import { execFileSync, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { requireNatsServer } from "@ferry/natsd";
import { benchMain } from "./helpers/main.js";
import { writeReportFile } from "./helpers/report-file.js";
import type { Cleanup } from "./helpers/procs.js";

const MESSAGES = Number(process.env.SYNC_TRACE_MESSAGES ?? 200);

interface Round {
  syncInterval: string;
  acked: number;
  /** Acks whose message was in a block file synced (fsync/fdatasync) before the ack was written. */
  syncedBeforeAck: number;
  fsyncCalls: number;
}

interface Summary {
  startedAt: string;
  server: string;
  messages: number;
  rounds: Round[];
}

/** One traced line: thread, time (µs), call, first argument (fd), the shown buffer. */
interface Call { us: number; call: string; fd: number; text: string }

function parseTrace(text: string): Call[] {
  const out: Call[] = [];
  for (const line of text.split("\n")) {
    const m = /^\d+\s+(\d+):(\d+):(\d+)\.(\d+)\s+(\w+)\((\d+)(.*)$/.exec(line);
    if (!m) continue;
    out.push({ us: ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1e6 + Number(m[4]), call: m[5]!, fd: Number(m[6]), text: m[7]! });
  }
  return out;
}

/** Block files are the fds whose writes carry the message subjects; acks are socket writes naming `"seq":n`. */
function analyse(calls: Call[], messages: number): { syncedBeforeAck: number; fsyncCalls: number; acked: number } {
  const storeWrite = new Map<number, Call>();
  const ack = new Map<number, Call>();
  for (const c of calls) {
    const marker = /sync\.trace\.(\d+)/.exec(c.text);
    if (marker && /^(write|pwrite64)$/.test(c.call) && !c.text.includes("PUB ")) storeWrite.set(Number(marker[1]), c);
    const seq = /\\"seq\\":(\d+)/.exec(c.text);
    if (seq && /^(write|writev)$/.test(c.call)) ack.set(Number(seq[1]), c);
  }
  const syncs = calls.filter((c) => c.call === "fsync" || c.call === "fdatasync");
  let syncedBeforeAck = 0;
  for (let n = 1; n <= messages; n++) {
    const w = storeWrite.get(n);
    const a = ack.get(n);
    if (w && a && syncs.some((s) => s.fd === w.fd && s.us >= w.us && s.us <= a.us)) syncedBeforeAck++;
  }
  return { syncedBeforeAck, fsyncCalls: syncs.length, acked: ack.size };
}

async function round(syncInterval: string, cleanup: Cleanup): Promise<Round> {
  const dir = await mkdtemp(join(tmpdir(), "ferry-sync-trace-"));
  cleanup.defer(() => rm(dir, { recursive: true, force: true }));
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  await writeFile(join(dir, "nats.conf"), `port: ${port}\njetstream { store_dir: ${JSON.stringify(dir)}\n sync_interval: ${syncInterval === "always" ? "always" : JSON.stringify(syncInterval)} }\n`);
  const trace = join(dir, "trace.txt");
  const server = requireNatsServer().path;
  const child = spawn("strace", ["-f", "-tt", "-s", "256", "-e", "trace=write,writev,pwrite64,fsync,fdatasync", "-o", trace, server, "-c", join(dir, "nats.conf")], { stdio: "ignore" });
  const exited = new Promise((r) => child.once("exit", r));
  cleanup.defer(async () => { if (child.exitCode === null) child.kill("SIGKILL"); await exited; });
  await sleep(1500);
  const nc = await connect({ servers: `127.0.0.1:${port}` });
  await (await jetstreamManager(nc)).streams.add({ name: "SYNC_TRACE", subjects: ["sync.trace.>"] });
  const js = jetstream(nc);
  for (let n = 1; n <= MESSAGES; n++) await js.publish(`sync.trace.${n}`, `record ${n}`);
  await nc.close();
  // Stop the traced server itself: strace ends with it (strace itself is slow to leave a busy Go process).
  for (const pid of execFileSync("pgrep", ["-P", String(child.pid)], { encoding: "utf8" }).split("\n").filter(Boolean)) process.kill(Number(pid), "SIGKILL");
  await exited;
  return { syncInterval, ...analyse(parseTrace(await readFile(trace, "utf8")), MESSAGES) };
}

benchMain<Summary>({
  name: "sync-trace",
  async run(cleanup) {
    const startedAt = new Date().toISOString();
    const server = requireNatsServer();
    const rounds = [await round("always", cleanup), await round("2m", cleanup)];
    return { startedAt, server: `${server.version.join(".")} (${server.path})`, messages: MESSAGES, rounds };
  },
  render(s) {
    return [`nats-server ${s.server}, ${s.messages} acknowledged publishes a round, one at a time`,
      ...s.rounds.map((r) => `sync_interval ${r.syncInterval.padEnd(6)}: ${r.syncedBeforeAck}/${s.messages} acks came after an fsync of the block holding their message (${r.acked} acks traced, ${r.fsyncCalls} fsync/fdatasync calls)`),
    ].join("\n");
  },
  write: (s) => writeReportFile("bench/results", "sync-trace", s),
  passed: (s) => s.rounds[0]!.syncedBeforeAck === s.messages && s.rounds[0]!.acked === s.messages,
});
