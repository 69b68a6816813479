import { createHash } from "node:crypto";
import type { FastifyInstance } from "fastify";
import type { Msg, MsgHdrs, NatsConnection } from "@nats-io/transport-node";
import type { ObjectStore } from "@nats-io/obj";
import { FerryError, Headers, LogPagingHeaders, MediaTypes, Subjects, isSubjectToken, readReply, type EdgeStatusRequest, type JoinRequest } from "@ferry/contracts";
import { isNoResponders, natsHeaders } from "@ferry/runtime";
import type { EdgeLifecycle } from "./edge-lifecycle.js";
import type { EdgeRecord, EdgeRegistry } from "./edge-registry.js";

/** What the Ops routes use. */
export interface RouteDeps {
  nc: NatsConnection;
  registry: EdgeRegistry;
  lifecycle: EdgeLifecycle;
  models: ObjectStore;
  timeoutMs: number;
}

/** The Ops API: edges and their bundles, joins, publishing, and every edge's logs. */
export function opsRoutes(app: FastifyInstance, d: RouteDeps): void {
  // For load balancers and probes: no token, and nothing about the hub but that it answers.
  app.get("/health", async (_req, reply) => {
    const up = !d.nc.isClosed();
    return reply.code(up ? 200 : 503).send({ status: up ? "ok" : "unavailable" });
  });
  edgeRoutes(app, d);
  publishingRoutes(app, d);
  app.post("/logs", async (req, reply) => {
    const h = natsHeaders({ [Headers.accept]: String(req.headers.accept ?? MediaTypes.pandasRecords) });
    const msg = await request(d, Subjects.logsQuery, req.body as Buffer, "the hub's logger is not running", h);
    for (const name of Object.values(LogPagingHeaders)) {
      const value = msg.headers?.get(name);
      if (value) void reply.header(name, value);
    }
    const r = readReply(msg.headers, msg.data);
    return reply.code(r.status).type(r.contentType).send(Buffer.from(r.body));
  });
}

/** Adding, listing and removing edges, and their one-time join. */
function edgeRoutes(app: FastifyInstance, d: RouteDeps): void {
  app.post("/edges", async (req, reply) => {
    const body = jsonOf(req.body) as { name?: unknown; pipeline?: unknown };
    const edgeBundle = await d.lifecycle.add(body.name, body.pipeline);
    return reply.code(201).send({ edgeBundle });
  });
  app.get("/edges", async () => Promise.all((await d.registry.list()).map((e) => edgeView(d, e))));
  app.delete<{ Params: { name: string } }>("/edges/:name", async (req) => {
    await d.lifecycle.remove(req.params.name);
    return { removed: req.params.name };
  });
  app.post("/join", async (req) => d.lifecycle.join(jsonOf(req.body) as Partial<JoinRequest>));
  app.post<{ Params: { name: string } }>("/edges/:name/status", async (req) => d.lifecycle.standing(req.params.name, jsonOf(req.body) as Partial<EdgeStatusRequest>));
}

/** One edge as `GET /edges` lists it: its state and the version it serves against the one published. */
async function edgeView(d: RouteDeps, e: EdgeRecord): Promise<Record<string, unknown>> {
  return {
    name: e.name,
    pipeline: e.pipeline,
    state: e.state,
    joined: e.state === "joined",
    created_at: e.created_at,
    joined_at: e.joined_at ?? null,
    last_seen: e.last_seen ?? null,
    pipeline_version: e.pipelines?.find((p) => p.name === e.pipeline)?.version ?? null,
    published_version: (await d.lifecycle.published(e.pipeline))?.pipeline_version ?? null,
    ...(e.detail ? { detail: e.detail } : {}),
  };
}

/** Model uploads, publishing a pipeline version to its edges, and what is published. */
function publishingRoutes(app: FastifyInstance, d: RouteDeps): void {
  app.post("/models", async (req, reply) => {
    const data = req.body as Buffer;
    if (!Buffer.isBuffer(data) || data.length === 0) throw new FerryError("bad_request", "POST /models takes the .onnx file's bytes as the body");
    const sha256 = createHash("sha256").update(data).digest("hex");
    if (!(await d.models.info(sha256))) await d.models.putBlob({ name: sha256 }, new Uint8Array(data));
    return reply.code(201).send({ sha256, size: data.length });
  });
  app.post<{ Params: { name: string } }>("/pipelines/:name/publish", async (req) => {
    const manifest = jsonOf(req.body) as { pipeline?: unknown };
    if (!isSubjectToken(req.params.name)) throw new FerryError("bad_request", `not a pipeline name: ${req.params.name}`);
    return forward(d, Subjects.deploy, JSON.stringify({ ...manifest, pipeline: req.params.name }), "the hub's deployer is not running");
  });
  app.get("/pipelines", async () => {
    const edges = await d.registry.list();
    const names = [...new Set(edges.map((e) => e.pipeline))];
    return Promise.all(names.map(async (name) => ({
      name,
      published_version: (await d.lifecycle.published(name))?.pipeline_version ?? null,
      edges: edges.filter((e) => e.pipeline === name).map((e) => e.name),
    })));
  });
}

async function forward(d: RouteDeps, subject: string, body: string, missing: string): Promise<unknown> {
  const msg = await request(d, subject, Buffer.from(body), missing);
  const { status } = readReply(msg.headers, msg.data);
  const value = msg.json<Record<string, unknown>>();
  if (status >= 400) throw new FerryError((value.code as never) ?? "internal", String(value.error ?? "failed"));
  return value;
}

async function request(d: RouteDeps, subject: string, body: Uint8Array | undefined, missing: string, h?: MsgHdrs): Promise<Msg> {
  try {
    return await d.nc.request(subject, body ?? new Uint8Array(), { timeout: d.timeoutMs, headers: h });
  } catch (err) {
    if (isNoResponders(err)) throw new FerryError("unavailable", missing, { cause: err });
    throw new FerryError("timeout", `${subject}: ${(err as Error).message}`, { cause: err });
  }
}

/** A JSON body ({} when empty); `bad_json` when it is not JSON. */
export function jsonOf(body: unknown): unknown {
  if (!Buffer.isBuffer(body) || body.length === 0) return {};
  try {
    return JSON.parse(body.toString("utf8"));
  } catch (err) {
    throw new FerryError("bad_json", `body is not JSON: ${(err as Error).message}`, { cause: err });
  }
}
