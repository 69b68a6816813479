import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { startNatsServer, type NatsServer } from "@ferry/natsd";
import { start as startGateway, type Gateway, type GatewayOptions } from "@ferry/gateway";
import { start as startInferer, type Inferer, type InfererOptions } from "@ferry/inferer";
import { start as startLogger, type LogService, type LoggerOptions } from "@ferry/logger";
import { pino } from "pino";
import { openStores, type DeploymentStores } from "@ferry/deployer";
import { provision, siteAssets, storageSettings, type Asset } from "@ferry/runtime";
import { manifests } from "./paths.js";

/** Silent logger for services under test (set FERRY_TEST_LOG=debug to see them). */
export const quiet = pino({ level: process.env.FERRY_TEST_LOG ?? "silent" });

/**
 * Creates streams and buckets (default: the site's), as `ferry start` does before any service starts:
 * services only open them.
 */
export async function provisionSite(servers: string | string[], assets: readonly Asset[] = siteAssets(storageSettings())): Promise<void> {
  const nc = await connect({ servers });
  try {
    await provision(nc, assets);
  } finally {
    await nc.close();
  }
}

/** A real nats-server with JetStream on a random loopback port, in a temp folder removed on stop. */
export async function startTestNats(maxPayload = 8 * 1024 * 1024, assets: readonly Asset[] = siteAssets(storageSettings())): Promise<NatsServer & { dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), "ferry-test-"));
  const server = await startNatsServer({ dataDir: dir, port: 0, maxPayload, syncInterval: "always" });
  await provisionSite(server.url, assets);
  const stop = async (): Promise<void> => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  };
  return { ...server, dir, stop, [Symbol.asyncDispose]: stop };
}

/** What a test site holds. */
export interface TestSite {
  nats: NatsServer;
  inferer?: Inferer;
  logger?: LogService;
  gateway: Gateway;
  /** The gateway's base URL. */
  url: string;
  /** A client connection, as a device would have. */
  client: NatsConnection;
  stop(): Promise<void>;
}

/** Options of a test site: which manifests the inferer serves (none: no inferer) and gateway settings. */
export interface TestSiteOptions {
  manifests?: string[];
  current?: string;
  inferer?: Partial<InfererOptions>;
  gateway?: Partial<GatewayOptions>;
  /** Logger options, or false for no logger. Default: a logger with default storage. */
  logger?: Partial<LoggerOptions> | false;
  /** What to provision before services start. Default: the site's assets with default storage. */
  assets?: readonly Asset[];
}

/** Starts nats-server, an inferer (unless `manifests` is empty) and a gateway on 127.0.0.1. */
export async function startTestSite(o: TestSiteOptions = {}): Promise<TestSite> {
  const nats = await startTestNats(undefined, o.assets);
  const list = o.manifests ?? [manifests.houseprice, manifests.cv, manifests.bucketed];
  const logger = o.logger === false ? undefined : await startLogger({ natsUrl: nats.url, logger: quiet, ...o.logger });
  const inferer = list.length > 0
    ? await startInferer({ natsUrl: nats.url, manifests: list, current: o.current, logger: quiet, partition: "test-site", ...o.inferer })
    : undefined;
  const gateway = await startGateway({ natsUrl: nats.url, port: 0, host: "127.0.0.1", logger: quiet, pipelines: ["edge-houseprice"], ...o.gateway });
  const client = await connect({ servers: nats.url });
  return {
    nats, inferer, logger, gateway, url: gateway.url, client,
    stop: async () => {
      await client.close();
      await gateway.stop();
      await inferer?.stop();
      await logger?.stop();
      await nats.stop();
    },
  };
}

/** JSON body of a pandas-records request for rows of the house-price model. */
export function houseRecords(rows: readonly number[][]): string {
  return JSON.stringify(rows.map((tensor) => ({ tensor })));
}

export const PANDAS = "application/json; format=pandas-records";
export const ARROW_FILE = "application/vnd.apache.arrow.file";
export const ARROW_STREAM = "application/vnd.apache.arrow.stream";

/** POSTs a body and returns status, content type and the parsed JSON (or raw bytes for non-JSON). */
export async function post(url: string, body: string | Uint8Array, headers: Record<string, string>): Promise<{ status: number; type: string; json: unknown; bytes: Uint8Array }> {
  const res = await fetch(url, { method: "POST", body, headers });
  const bytes = new Uint8Array(await res.arrayBuffer());
  const type = res.headers.get("content-type") ?? "";
  const json: unknown = type.includes("json") ? JSON.parse(new TextDecoder().decode(bytes)) : undefined;
  return { status: res.status, type, json, bytes };
}

/** Relative difference, safe at zero. */
export function relDiff(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);
}

/** A site that serves what is deployed: nats-server, deployment stores, an inferer watching them, a gateway. */
export interface DeploySite {
  nats: NatsServer;
  nc: NatsConnection;
  stores: DeploymentStores;
  inferer: Inferer;
  gateway: Gateway;
  /** A temp folder for manifests and the inferer's cache, removed on stop. */
  dir: string;
  stop(): Promise<void>;
}

/** Starts a DeploySite on loopback. */
export async function startDeploySite(inferer: Partial<InfererOptions> = {}): Promise<DeploySite> {
  const nats = await startTestNats();
  const nc = await connect({ servers: nats.url });
  const stores = await openStores(nc);
  const dir = await mkdtemp(join(tmpdir(), "ferry-deploy-"));
  const logger = await startLogger({ natsUrl: nats.url, logger: quiet });
  const inf = await startInferer({ natsUrl: nats.url, manifests: [], cacheDir: join(dir, "cache"), logger: quiet, ...inferer });
  const gateway = await startGateway({ natsUrl: nats.url, port: 0, host: "127.0.0.1", logger: quiet });
  return {
    nats, nc, stores, inferer: inf, gateway, dir,
    stop: async () => {
      await gateway.stop();
      await inf.stop();
      await logger.stop();
      await nc.close();
      await nats.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Polls `check` until it holds (publishing and swapping are asynchronous). */
export async function until(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A provisioned test nats-server and one client connection for the enclosing `describe`: started in
 * its `before`, closed in its `after`. Read them inside tests (or later hooks) through the getters.
 */
export function natsForSuite(): { readonly url: string; readonly nc: NatsConnection } {
  let nats: Awaited<ReturnType<typeof startTestNats>> | undefined;
  let nc: NatsConnection | undefined;
  before(async () => {
    nats = await startTestNats();
    nc = await connect({ servers: nats.url });
  });
  after(async () => {
    await nc?.close();
    await nats?.stop();
  });
  return { get url() { return nats!.url; }, get nc() { return nc!; } };
}
