import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from "fastify";
import type { NatsConnection } from "@nats-io/transport-node";
import { Admission, admitInference, type AdmissionLimits } from "./admission.js";
import { DEFAULT_CLIENT_TIMEOUTS, closeSlowClientsOnStop, timeoutSettings, type ClientTimeouts } from "./client-timeouts.js";
import { clientErrorReply, errorReplies, frameworkErrors } from "./error-replies.js";
import { acceptRawBodies } from "./raw-bodies.js";
import { natsPlugin } from "./nats-plugin.js";
import { registerOpenApi } from "./openapi.js";
import { registerMetrics, type InferenceCounter } from "./metrics.js";
import { registerDashboard } from "./dashboard.js";
import { statusRoutes } from "./routes/status.js";
import { inferRoutes } from "./routes/infer.js";
import { logsRoutes } from "./routes/logs.js";
import { healthRoutes } from "./routes/health.js";
import { v2RestRoutes } from "./v2/rest-routes.js";

/** What the gateway app needs. */
export interface AppOptions {
  nc: NatsConnection;
  /** Drain `nc` when the app closes (start() hands its connection over). Default false. */
  ownsConnection?: boolean;
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
  /** How long a client may take to send a request, and to idle between requests. Default DEFAULT_CLIENT_TIMEOUTS. */
  timeouts?: ClientTimeouts;
  logger?: FastifyBaseLogger;
  /** Serve HTTPS (TLS 1.2+) with this key and certificate (PEM; the certificate may be followed by its chain). */
  https?: { key: string; cert: string };
  /** The admission state behind `admission` (shared with the gRPC server, when there is one). Default: the app's own. */
  admitted?: Admission;
}

declare module "fastify" {
  interface FastifyInstance {
    /** Counts gRPC inferences in the gateway's request metrics. */
    inferenceCounter: InferenceCounter;
  }
}

/** The requests load shedding counts: those that reach the inferers. */
const isInference = (req: FastifyRequest): boolean =>
  req.method === "POST" && (req.url === "/infer" || req.url.startsWith("/pipelines/") || (req.url.startsWith("/v2/models/") && req.url.endsWith("/infer")));

/** The Fastify instance with the gateway's settings, before anything is registered. */
function createFastify(options: AppOptions): FastifyInstance {
  // An HTTPS app is typed as a Fastify over https.Server; the routes only need what both share.
  return Fastify({
    ...(options.https ? { https: { ...options.https, minVersion: "TLSv1.2" as const } } : {}),
    bodyLimit: options.bodyLimit,
    ...timeoutSettings(options.timeouts ?? DEFAULT_CLIENT_TIMEOUTS),
    // Pipeline names are subject tokens of up to 128 characters; longer ones get Ferry's own 404.
    routerOptions: { maxParamLength: 512 },
    frameworkErrors,
    clientErrorHandler: clientErrorReply,
    logController: new LogController({ disableRequestLogging: true }),
    ...(options.logger ? { loggerInstance: options.logger } : {}),
  }) as unknown as FastifyInstance;
}

/** Builds the gateway's Fastify app (not listening): HTTP in, NATS requests out. */
export function buildApp(options: AppOptions): FastifyInstance {
  const app = createFastify(options);
  errorReplies(app);
  acceptRawBodies(app);
  const { nc, timeoutMs, maxInFlight, maxBatch, pipelines } = options;
  void app.register(natsPlugin, { nc, ownsConnection: options.ownsConnection ?? false, timeoutMs, maxInFlight, maxBatch });
  // Before the routes: the document is generated from their schemas as they are added.
  registerOpenApi(app);
  admitInference(app, options.admitted ?? new Admission(options.admission), isInference);
  closeSlowClientsOnStop(app, (options.timeouts ?? DEFAULT_CLIENT_TIMEOUTS).bodyTimeoutMs);
  void app.register(statusRoutes, { pipelines });
  void app.register(inferRoutes, { pipelines });
  void app.register(logsRoutes);
  void app.register(healthRoutes);
  void app.register(v2RestRoutes);
  app.decorate("inferenceCounter", registerMetrics(app, nc));
  registerDashboard(app, nc);
  return app;
}
