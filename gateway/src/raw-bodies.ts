import type { FastifyInstance } from "fastify";

const DOUBLED_CONTENT_TYPE = /^\s*content-type\s*:\s*/i;

/**
 * The gateway forwards bytes: no body is parsed here, the inferer (or the logger) reads it. Any content
 * type is accepted as a Buffer; a missing body reads as empty.
 */
export function acceptRawBodies(app: FastifyInstance): void {
  // The spec's /logs example sends "Content-Type: Content-Type: application/json; ...".
  app.addHook("onRequest", (req, _reply, done) => {
    const ct = req.headers["content-type"];
    if (ct && DOUBLED_CONTENT_TYPE.test(ct)) req.headers["content-type"] = ct.replace(DOUBLED_CONTENT_TYPE, "");
    done();
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_req, body, done) => done(null, body));
}
