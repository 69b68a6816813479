// Helpers of bench/sync.ts: the TLS vs plain comparison. Ferry's Ops hub cannot start without TLS (secure
// by default: there is no option for it), so the plain baseline is a bare nats-server pair set up by the
// bench as Ferry sets up a hub and an edge: a hub server (JetStream domain "hub", a leaf listener) whose
// FERRY_LOGS_ALL sources the edge's FERRY_LOGS through `$JS.<edge>.API`, and an edge server (domain =
// its name, FERRY_LOGS provisioned, Ferry's leaf deny lists, s2_auto). The same pair also runs with
// TLS on the hub (a CA and certificate from Ferry's certificate module, the edge's remote checking it),
// so that the two differ only in TLS. Each round: the edge's FERRY_LOGS is purged and refilled with
// SYNC_RECORDS records; FERRY_LOGS_ALL is made again and sources them over the link that is up.
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { HubLogStream, LogStream } from "@ferry/contracts";
import { ensureOwnTls, startNatsServer, type NatsServer, type TlsFiles } from "@ferry/natsd";
import { ensureStream, hubLogStreamConfig, storageSettings } from "@ferry/runtime";
import { cpuWindow, type CpuShare } from "./load.js";
import type { Jet } from "./logs-ferry.js";
import { freePort } from "./procs.js";
import { syncSettings } from "./sync-config.js";
import { startEdge, type BenchEdge } from "./sync-edge.js";
import { writeEdgeRecords } from "./sync-round.js";

export type LinkSecurity = "tls" | "plain";

/** One round of a pair: the edge's write, and the hub's sourcing of it. */
export interface PairRound {
  security: LinkSecurity;
  records: number;
  messages: number;
  writeRecordsPerS: number;
  /** Records after the first sourced message ÷ first to last stored (the hub's clock), as in the hub rounds. */
  recordsPerS: number;
  /** From the call that makes FERRY_LOGS_ALL to its last message stored, s. */
  allInS: number;
  /** CPU of processes outside the pair and the bench (% of one core) during the write / the sourcing. */
  otherPct: { write: number; sourcing: number };
}

/** A hub server and an edge server linked by a leaf connection, with or without TLS. */
export class LinkPair {
  private constructor(readonly security: LinkSecurity, readonly hub: NatsServer, readonly hubJet: Jet, readonly edge: BenchEdge, readonly edgeName: string) {}

  /** Starts the pair in `dir`; resolves once a first message has crossed (a warm-up round). */
  static async start(security: LinkSecurity, dir: string, log: (line: string) => void, pipelineVersion: string): Promise<LinkPair> {
    const tls: TlsFiles | undefined = security === "tls" ? await ensureOwnTls(join(dir, "tls"), "Ferry bench pair CA", ["localhost", "127.0.0.1"]) : undefined;
    const leafPort = await freePort();
    const hub = await startNatsServer({
      dataDir: join(dir, "hub"), port: 0, leafPort, serverName: `pair-hub-${security}`, jetstreamDomain: "hub", syncInterval: "always", log, ...(tls ? { tls } : {}),
    });
    const nc = await connect({ servers: hub.url, name: "ferry-bench-pair-hub", noAsyncTraces: true, ...(tls ? { tls: { caFile: tls.caFile } } : {}) });
    const hubJet: Jet = { nc, js: jetstream(nc), jsm: await jetstreamManager(nc) };
    const edgeName = `pair-edge-${security}`;
    const link = { url: `nats-leaf://127.0.0.1:${leafPort}`, ...(tls ? { hubCaFile: tls.caFile } : {}) };
    const edge = await startEdge(edgeName, link, join(dir, "edge"), log, "s2_auto");
    const pair = new LinkPair(security, hub, hubJet, edge, edgeName);
    await pair.round(pipelineVersion, syncSettings.perMessage);
    return pair;
  }

  /** Purges the edge's FERRY_LOGS, writes `records` records into it and times the hub's sourcing of them. */
  async round(pipelineVersion: string, records: number): Promise<PairRound> {
    await this.hubJet.jsm.streams.delete(HubLogStream).catch(() => false);
    await this.edge.jet.jsm.streams.purge(LogStream);
    const write = await writeEdgeRecords(this.edge, pipelineVersion, records);
    const t0 = Date.now();
    const closeCpu = cpuWindow([{ label: "bench", pid: process.pid, node: true }, this.edge.proc, { label: "pair hub nats-server", pid: this.hub.process.pid ?? -1, node: false }]);
    await ensureStream(this.hubJet.jsm, hubLogStreamConfig(storageSettings(), [this.edgeName]));
    await this.#until(write.messages);
    const other = (shares: CpuShare[]): number => shares.at(-1)?.totalPct ?? Number.NaN;
    const otherPct = { write: other(write.cpu), sourcing: other(await closeCpu()) };
    const stored = async (seq: number): Promise<number> => (await this.hubJet.jsm.streams.getMessage(HubLogStream, { seq }))!.time.getTime();
    const [first, last] = [await stored(1), await stored(write.messages)];
    const streamed = write.records - Math.min(syncSettings.perMessage, write.records);
    return {
      security: this.security, records: write.records, messages: write.messages, writeRecordsPerS: write.recordsPerS,
      recordsPerS: last > first ? streamed / ((last - first) / 1000) : Number.NaN, allInS: (last - t0) / 1000, otherPct,
    };
  }

  /** Polls until FERRY_LOGS_ALL holds `messages`; throws when its count stops moving for SYNC_STALL_SECONDS. */
  async #until(messages: number): Promise<void> {
    let [seen, movedAt] = [-1, Date.now()];
    for (;;) {
      const n = (await this.hubJet.jsm.streams.info(HubLogStream)).state.messages;
      if (n >= messages) return;
      if (n !== seen) [seen, movedAt] = [n, Date.now()];
      if (Date.now() - movedAt > syncSettings.stallSeconds * 1000) throw new Error(`${this.security} pair: ${n} of ${messages} messages sourced, stalled`);
      await sleep(syncSettings.pollMs);
    }
  }

  async stop(): Promise<void> {
    await this.hubJet.nc.close();
    await this.edge.stop();
    await this.hub.stop();
  }
}
