import type { NatsConnection } from "@nats-io/transport-node";
import { serviceOf, type Service, connectService } from "@ferry/runtime";
import type { FastifyInstance } from "fastify";
import { pino, type Logger } from "pino";
import { buildApp, type AppOptions } from "./app.js";
import { DEFAULT_CLIENT_TIMEOUTS } from "./client-timeouts.js";
import { Admission, type AdmissionLimits } from "./admission.js";
import { startGrpcServer, type GrpcServer } from "./v2/grpc-server.js";
import { V2Models } from "./v2/models.js";

/** How to start a gateway. */
export interface GatewayOptions {
  /** NATS server URL(s); ignored when `nc` is given. Default nats://127.0.0.1:4222. */
  natsUrl?: string;
  nc?: NatsConnection;
  /** HTTP port; 0 picks a free one. Default 8080. */
  port?: number;
  /** Address to listen on. Default 0.0.0.0 (the site's clients reach it over the LAN). */
  host?: string;
  /** Largest request body, bytes. Default 16 MiB. */
  bodyLimit?: number;
  /** Reply timeout, ms. Default 15 000. */
  timeoutMs?: number;
  /** Pipelines the site should serve (listed as Error while no inferer reports them). */
  pipelines?: readonly string[];
  /** NATS requests in flight per pipeline before requests are coalesced. Default 2. */
  maxInFlight?: number;
  /** Most requests coalesced into one NATS message. Default 256. */
  maxBatch?: number;
  /** Inference requests held at once before 503 `overloaded` (load shedding). Default 4096. */
  maxPending?: number;
  /** Bytes of request bodies held at once before 503 `overloaded`. Default 512 MiB. */
  maxPendingBytes?: number;
  /** Headers and whole body of a request must arrive within this, else 408 `request_timeout`, ms. Default 60 000. */
  bodyTimeoutMs?: number;
  /** Headers must arrive within this, ms. Default 10 000 (at most bodyTimeoutMs). */
  headersTimeoutMs?: number;
  /** Idle keep-alive connections are closed after this, ms. Default 5000. */
  keepAliveTimeoutMs?: number;
  logger?: Logger;
  /** Serve HTTPS (TLS 1.2+) with this key and certificate (PEM) instead of HTTP; the gRPC port then speaks TLS too. */
  https?: { key: string; cert: string };
  /** Serve the Open Inference Protocol's gRPC service on this port (0 picks a free one); undefined: no gRPC. */
  grpcPort?: number;
}

/** A running gateway. */
export interface Gateway extends Service {
  /** Base URL it listens on, e.g. http://127.0.0.1:8080. */
  readonly url: string;
  readonly port: number;
  readonly app: FastifyInstance;
  /** The gRPC port, when the gateway serves gRPC. */
  readonly grpcPort?: number;
}

/** Default request body limit: 16 MiB, well above one 224×224×3 float image in JSON or Arrow. */
export const DEFAULT_BODY_LIMIT = 16 * 1024 * 1024;

/** The app's options: the gateway's, with their defaults. The app owns the connection from then on. */
function appOptions(options: GatewayOptions, nc: NatsConnection, logger: Logger, shared: Pick<AppOptions, "admitted">): AppOptions {
  return {
    nc,
    ...shared,
    ownsConnection: true,
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    timeoutMs: options.timeoutMs ?? 15_000,
    pipelines: options.pipelines ?? [],
    maxInFlight: options.maxInFlight ?? 2,
    maxBatch: options.maxBatch ?? 256,
    admission: admissionLimits(options),
    timeouts: {
      bodyTimeoutMs: options.bodyTimeoutMs ?? DEFAULT_CLIENT_TIMEOUTS.bodyTimeoutMs,
      headersTimeoutMs: options.headersTimeoutMs ?? DEFAULT_CLIENT_TIMEOUTS.headersTimeoutMs,
      keepAliveTimeoutMs: options.keepAliveTimeoutMs ?? DEFAULT_CLIENT_TIMEOUTS.keepAliveTimeoutMs,
    },
    logger,
    ...(options.https ? { https: options.https } : {}),
  };
}

function admissionLimits(options: GatewayOptions): AdmissionLimits {
  return { maxPending: options.maxPending ?? 4096, maxPendingBytes: options.maxPendingBytes ?? 512 * 1024 * 1024 };
}

/** Starts the HTTP gateway: connect, build the app, listen. Stopping it closes the app, which drains NATS. */
export async function start(options: GatewayOptions = {}): Promise<Gateway> {
  const logger = options.logger ?? pino({ name: "gateway" });
  const nc = options.nc ?? await connectService("ferry-gateway", options.natsUrl);
  // One admission count for HTTP and gRPC.
  const admitted = new Admission(admissionLimits(options));
  const app = buildApp(appOptions(options, nc, logger, { admitted }));
  const host = options.host ?? "0.0.0.0";
  let grpc: GrpcServer | undefined;
  try {
    await app.listen({ port: options.port ?? 8080, host });
    if (options.grpcPort !== undefined) {
      grpc = await startGrpcServer({
        nats: app.nats, models: new V2Models(app.nats.status), admission: admitted, counter: app.inferenceCounter, host, port: options.grpcPort, logger,
        maxMessageBytes: options.bodyLimit ?? DEFAULT_BODY_LIMIT, ...(options.https ? { tls: options.https } : {}),
      });
    }
  } catch (err) {
    await app.close();
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : options.port ?? 8080;
  const url = `${options.https ? "https" : "http"}://${host === "0.0.0.0" || host === "::" ? "localhost" : host}:${port}`;
  logger.info({ url }, "gateway listening");
  const stop = async (): Promise<void> => {
    await grpc?.stop();
    await app.close();
  };
  return serviceOf("gateway", stop, { url, port, app, ...(grpc ? { grpcPort: grpc.port } : {}) });
}
