import type { FastifyPluginAsync } from "fastify";
import type { Msg } from "@nats-io/transport-node";
import { FerryError, Headers, LogIterationStatusSchema, LogPagingHeaders, MediaTypes, Subjects, readReply, type ErrorCode } from "@ferry/contracts";
import { natsHeaders } from "@ferry/runtime";
import { bodyOf, sendForwarded } from "../forwarding.js";
import { binary, errorResponses, plainSchema } from "../openapi-responses.js";
import { componentRef, schemaRef } from "../openapi-schemas.js";
import type { GatewayNats } from "../nats-plugin.js";
import { natsError } from "../upstream-errors.js";

const logsErrors: ErrorCode[] = ["bad_json", "bad_request", "not_acceptable", "payload_too_large", "internal", "bad_gateway", "logs_unavailable", "inferer_timeout"];

const schema = {
  operationId: "logs", summary: "Read inference logs", tags: ["logs"],
  description: "`{}` returns the latest 1000 records, oldest first. Any `Content-Type` is accepted (the body is read as JSON). "
    + `Paging state comes in the \`${LogPagingHeaders.cursor}\` and \`${LogPagingHeaders.status}\` headers; send the cursor back as \`cursor\`.`,
  response: {
    200: {
      description: "Log records. `Accept: application/vnd.apache.arrow.file` returns an Arrow table (`time`, `anomaly.count`, `metadata.*` typed; `in`, `out`, `anomaly` as JSON text).",
      headers: {
        [LogPagingHeaders.cursor]: { type: "string", description: "send back as `cursor` for the next page" },
        [LogPagingHeaders.status]: { ...plainSchema(LogIterationStatusSchema), description: "`Continue` while more pages follow, else `End`" },
      },
      content: { [MediaTypes.pandasRecords]: { schema: schemaRef("LogReply") }, [MediaTypes.arrowFile]: { schema: binary } },
    },
    ...errorResponses(logsErrors),
  },
};

/** The query is forwarded bytes (the logger reads and checks it), so its body is documented by hand. */
const forwarding = {
  requestBody: { required: false, description: "query parameters; empty or `{}` for the latest page", content: { [MediaTypes.json]: { schema: componentRef("LogQuery") } } },
};

/** `POST /logs`: the query goes to the logger service as it came; its reply and paging headers come back. */
export const logsRoutes: FastifyPluginAsync = async (app) => {
  const nats = app.nats;
  app.post("/logs", { schema, config: { forwarding } }, async (req, reply) => {
    const msg = await queryLogger(nats, bodyOf(req), req.headers.accept);
    for (const name of Object.values(LogPagingHeaders)) {
      const value = msg.headers?.get(name);
      if (value) void reply.header(name, value);
    }
    return sendForwarded(reply, readReply(msg.headers, msg.data));
  });
};

/** One request on `ferry.logs.query`; FerryError `logs_unavailable` when no logger answers. */
async function queryLogger(nats: GatewayNats, body: Uint8Array, accept: string | undefined): Promise<Msg> {
  try {
    return await nats.nc.request(Subjects.logsQuery, body, { timeout: nats.timeoutMs, headers: natsHeaders(accept ? { [Headers.accept]: accept } : {}) });
  } catch (err) {
    const e = natsError(err, Subjects.logsQuery, nats.timeoutMs);
    throw e.code === "no_inferer" ? new FerryError("logs_unavailable", "the logger service is not running", { cause: err }) : e;
  }
}
