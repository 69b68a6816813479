import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { headers, type Msg, type NatsConnection } from "@nats-io/transport-node";
import type { FastifyBaseLogger } from "fastify";
import { FerryError, Headers, LogPagingHeaders, MediaTypes, Subjects, inferSubject, isSubjectToken, type ErrorCode } from "@ferry/contracts";
import { Coalescer, natsError, type ForwardReply } from "./coalescer.js";
import { admitInference, type AdmissionLimits } from "./admission.js";
import { collectStatus, deployedPipelines, modelsOf, pipelinesOf } from "./status-client.js";
import { registerHealth } from "./health.js";
import { registerReady } from "./readiness.js";
import { registerMetrics } from "./metrics.js";
import { registerOpenApi } from "./openapi.js";
import { registerDashboard } from "./dashboard.js";

/** What the gateway app needs. */
export interface AppOptions {
  nc: NatsConnection;
  /** Largest request body, bytes. */
  bodyLimit: number;
  /** How long to wait for an inferer's reply, ms. */
  timeoutMs: number;
  /** Pipelines the site is expected to serve besides the deployed ones: listed as Error when no inferer reports them. */
  pipelines: readonly string[];
  maxInFlight: number;
  maxBatch: number;
  /** Load shedding: inference requests and body bytes held at once before 503 `overloaded`. */
  admission: AdmissionLimits;
  logger?: FastifyBaseLogger;
}

const fastifyCodes: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: "payload_too_large",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "unsupported_media_type",
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: "bad_request",
  FST_ERR_CTP_EMPTY_JSON_BODY: "bad_json",
};

/** Builds the gateway's Fastify app (not listening): HTTP in, NATS requests out. */
export function buildApp(options: AppOptions): FastifyInstance {
  const app: FastifyInstance = Fastify({
    bodyLimit: options.bodyLimit,
    // Pipeline names are subject tokens of up to 128 characters; longer ones get Ferry's own 404.
    routerOptions: { maxParamLength: 512 },
    // Fastify answers a malformed URL (FST_ERR_BAD_URL) itself unless told otherwise.
    frameworkErrors: (err, _req, reply) => {
      const e = err.code === "FST_ERR_MAX_PARAM_LENGTH"
        ? new FerryError("unknown_pipeline", "unknown pipeline: names are at most 128 characters")
        : new FerryError("bad_request", "bad URL: a malformed %-escape");
      void (reply as FastifyReply).code(e.status).type(MediaTypes.json).send(e.toBody());
    },
    logController: new LogController({ disableRequestLogging: true }),
    ...(options.logger ? { loggerInstance: options.logger } : {}),
  }) as unknown as FastifyInstance;
  const coalescer = new Coalescer(options.nc, { timeoutMs: options.timeoutMs, maxInFlight: options.maxInFlight, maxBatch: options.maxBatch });

  // The spec's /logs example sends "Content-Type: Content-Type: application/json; ...".
  app.addHook("onRequest", (req, _reply, done) => {
    const ct = req.headers["content-type"];
    if (ct && /^\s*content-type\s*:/i.test(ct)) req.headers["content-type"] = ct.replace(/^\s*content-type\s*:\s*/i, "");
    done();
  });
  // The gateway forwards bytes: no parsing here, the inferer reads the body.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_req, body, done) => done(null, body));

  app.setErrorHandler((err: FastifyError, _req, reply) => {
    const code = err instanceof FerryError ? err.code : fastifyCodes[err.code] ?? (err.statusCode && err.statusCode < 500 ? "bad_request" : "internal");
    const e = err instanceof FerryError ? err : new FerryError(code, err.message);
    if (e.status >= 500 && e.code === "internal") app.log.error({ err }, "request failed");
    void reply.code(e.status).type(MediaTypes.json).send(e.toBody());
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).type(MediaTypes.json).send({ error: `no route ${req.method} ${req.url.split("?")[0]}`, code: "not_found" });
  });

  app.get("/pipelines", async () => {
    const [statuses, deployed] = await Promise.all([collectStatus(options.nc), deployedPipelines(options.nc)]);
    return { pipelines: pipelinesOf(statuses, [...new Set([...options.pipelines, ...deployed])]) };
  });
  app.get("/models", async () => ({ models: modelsOf(await collectStatus(options.nc)) }));
  registerHealth(app, options.nc);
  registerReady(app, options.nc);
  registerMetrics(app, options.nc);
  registerOpenApi(app);
  registerDashboard(app, options.nc);
  admitInference(app, options.admission, (req) => req.method === "POST" && (req.url === "/infer" || req.url.startsWith("/pipelines/")));

  const forward = async (subject: string, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const r = await coalescer.send(subject, { body: bodyOf(req), headers: forwardedHeaders(req) });
    return sendReply(reply, r);
  };
  app.post("/infer", async (req, reply) => forward(Subjects.infer, req, reply));
  app.post<{ Params: { name: string } }>("/pipelines/:name", async (req, reply) => {
    const name = req.params.name;
    if (!isSubjectToken(name)) throw new FerryError("unknown_pipeline", `unknown pipeline ${JSON.stringify(name)}`);
    try {
      return await forward(inferSubject(name), req, reply);
    } catch (err) {
      if (err instanceof FerryError && err.code === "no_inferer" && !(await isKnownPipeline(options, name))) {
        throw new FerryError("unknown_pipeline", `unknown pipeline ${JSON.stringify(name)}`);
      }
      throw err;
    }
  });
  app.post("/logs", async (req, reply) => {
    const h = headers();
    if (req.headers.accept) h.set(Headers.accept, req.headers.accept);
    let msg: Msg;
    try {
      msg = await options.nc.request(Subjects.logsQuery, bodyOf(req), { timeout: options.timeoutMs, headers: h });
    } catch (err) {
      const e = natsError(err, Subjects.logsQuery, options.timeoutMs);
      throw e.code === "no_inferer" ? new FerryError("logs_unavailable", "the logger service is not running", { cause: err }) : e;
    }
    for (const name of Object.values(LogPagingHeaders)) {
      const value = msg.headers?.get(name);
      if (value) void reply.header(name, value);
    }
    return sendReply(reply, { status: Number(msg.headers?.get(Headers.status) || 200), contentType: msg.headers?.get(Headers.contentType) || MediaTypes.pandasRecords, body: msg.data });
  });
  return app;
}

async function isKnownPipeline(options: AppOptions, name: string): Promise<boolean> {
  if (options.pipelines.includes(name) || (await deployedPipelines(options.nc)).includes(name)) return true;
  const statuses = await collectStatus(options.nc);
  return statuses.some((s) => s.pipelines.some((p) => p.id === name));
}

function bodyOf(req: FastifyRequest): Uint8Array {
  return req.body instanceof Uint8Array ? req.body : new Uint8Array(0);
}

function forwardedHeaders(req: FastifyRequest): Record<string, string> {
  const h: Record<string, string> = {};
  const ct = req.headers["content-type"];
  const accept = req.headers.accept;
  const id = req.headers["ferry-request-id"];
  const split = req.headers["ferry-split-key"];
  if (typeof split === "string") h[Headers.splitKey] = split;
  if (ct) h[Headers.contentType] = ct;
  if (accept) h[Headers.accept] = accept;
  if (typeof id === "string") h[Headers.requestId] = id;
  return h;
}

function sendReply(reply: FastifyReply, r: ForwardReply): FastifyReply {
  return reply.code(r.status).header("content-type", r.contentType).send(Buffer.from(r.body.buffer, r.body.byteOffset, r.body.byteLength));
}
