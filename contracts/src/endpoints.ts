/**
 * Every request/reply subject with its request and reply types, so a reader finds both in one place.
 * The types travel as JSON unless a body is `Uint8Array` (bytes whose format the headers name, see
 * inference-framing.ts). `TypedEndpoint` carries the types for the compiler only.
 */
import type { Heartbeat, HeartbeatReply, LinkStatus } from "./edge-bundle.js";
import type { TrafficSnapshot } from "./http-schemas.js";
import type { LogQuery, LogRecord } from "./log-record.js";
import type { DeployedManifest, DeploymentManifest } from "./manifest.js";
import type { InfererStatus } from "./status.js";
import { DeployerQueue, InfererQueue, LoggerQueue, Subjects } from "./subjects.js";

/** A request/reply subject (or subject prefix), who answers it, and its request and reply types. */
export interface TypedEndpoint<Request, Reply> {
  readonly subject: string;
  /** Queue group of the answering service: one of them answers. Absent: every subscriber answers (gather them). */
  readonly queue?: string;
  /** Phantom: never set; `RequestOf`/`ReplyOf` read it. */
  readonly types?: { request: Request; reply: Reply };
}

export type RequestOf<E> = E extends TypedEndpoint<infer Q, unknown> ? Q : never;
export type ReplyOf<E> = E extends TypedEndpoint<unknown, infer R> ? R : never;

function endpoint<Request, Reply>(subject: string, queue?: string): TypedEndpoint<Request, Reply> {
  return queue ? { subject, queue } : { subject };
}

/** Pipeline name in a body. */
export interface PipelineRef {
  pipeline: string;
}

/** The request/reply endpoints of a site (and of the hub's heartbeat). */
export const Endpoints = {
  /** Inference on the site's current pipeline: pandas-records JSON or Arrow bytes in, records out (Ferry-Status on errors). */
  infer: endpoint<Uint8Array, Uint8Array>(Subjects.infer, InfererQueue),
  /** Inference on a named pipeline: `inferSubject(name)`, same bodies as `infer`. */
  inferNamed: endpoint<Uint8Array, Uint8Array>(Subjects.inferPrefix, InfererQueue),
  /** What each inferer serves (`GET /pipelines`, `GET /models` merge every answer). */
  status: endpoint<void, InfererStatus>(Subjects.status),
  /** A page of inference log records; paging headers on the reply (`POST /logs`). */
  logsQuery: endpoint<LogQuery, LogRecord[]>(Subjects.logsQuery, LoggerQueue),
  /** Publish a manifest whose models are in the object store. */
  deploy: endpoint<DeploymentManifest, DeployedManifest>(Subjects.deploy, DeployerQueue),
  /** Remove a pipeline. */
  undeploy: endpoint<PipelineRef, PipelineRef & { undeployed: true }>(Subjects.undeploy, DeployerQueue),
  /** Set the site's current pipeline. */
  setCurrent: endpoint<PipelineRef, { current: string }>(Subjects.setCurrent, DeployerQueue),
  /** An edge's heartbeat to the hub: `heartbeatSubject(edge)`. */
  heartbeat: endpoint<Heartbeat, HeartbeatReply>(Subjects.heartbeatPrefix),
  /** The state of the site's link to the hub (answered by the link service). */
  linkStatus: endpoint<void, LinkStatus>(Subjects.linkStatus),
  /** Each inferer's and logger's metrics, Prometheus text (`GET /metrics` gathers them). */
  metrics: endpoint<void, string>(Subjects.metrics),
  /** Each gateway's traffic of the last minute (`GET /ui/stats` sums them). */
  gatewayTraffic: endpoint<void, TrafficSnapshot>(Subjects.gatewayTraffic),
} as const;
