import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from "fastify";
import { FerryError, MediaTypes } from "@ferry/contracts";
import { isTransient } from "@ferry/runtime";
import type { Logger } from "pino";
import { guardRoutes, type AuthDeps } from "./auth.js";
import { opsRoutes, type RouteDeps } from "./routes.js";
import { tokenRoutes } from "./token-routes.js";

/** Settings of the Ops API's HTTP app. */
export interface OpsAppOptions {
  /** Largest request body (model uploads), bytes. */
  bodyLimit: number;
  logger: Logger;
  /** Serve HTTPS with this key and certificate (chain). */
  https?: { key: string; cert: string; minVersion: "TLSv1.2" };
}

/** The Ops API as a Fastify app, not yet listening (tests may `inject` into it). */
export function buildOpsApp(deps: RouteDeps & AuthDeps, o: OpsAppOptions): FastifyInstance {
  // Typed as Fastify's logger interface, so the app is a plain FastifyInstance (pino's Logger has more).
  // Fastify's request serializer leaves headers out; the redaction keeps a bearer token out of the log
  // should a header ever be logged (test/ops-auth.test.ts greps the log for tokens).
  const logger: FastifyBaseLogger = o.logger.child({}, { redact: { paths: redacted, censor: "[redacted]" } });
  // An HTTPS app is typed as a Fastify over https.Server; the routes only need what both share.
  const app = (o.https
    ? Fastify({ bodyLimit: o.bodyLimit, loggerInstance: logger, https: o.https })
    : Fastify({ bodyLimit: o.bodyLimit, loggerInstance: logger })) as unknown as FastifyInstance;
  handleErrors(app);
  // Before any route: it refuses to register one that RouteRoles lacks.
  guardRoutes(app, deps);
  opsRoutes(app, deps);
  tokenRoutes(app, deps.tokens);
  return app;
}

/** Log paths that may hold a credential. */
const redacted = ["req.headers.authorization", "headers.authorization", "authorization", "token", "join_token", "password"];

/** Bodies stay bytes (routes parse what they take); every error is a JSON `{error, code}`. */
function handleErrors(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_req, body, done) => done(null, body));
  app.setErrorHandler((err: FastifyError, _req, reply) => {
    const e = err instanceof FerryError ? err
      // The hub's server away for a moment: worth a retry, not a 500.
      : isTransient(err) ? new FerryError("unavailable", `the hub's NATS server is not reachable right now: ${err.message}`)
        : new FerryError(err.code === "FST_ERR_CTP_BODY_TOO_LARGE" ? "payload_too_large" : err.statusCode && err.statusCode < 500 ? "bad_request" : "internal", err.message);
    if (e.code === "unavailable") void reply.header("Retry-After", "1");
    void reply.code(e.status).type(MediaTypes.json).send(e.toBody());
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).type(MediaTypes.json).send({ error: `no route ${req.method} ${req.url.split("?")[0]}`, code: "not_found" });
  });
}
