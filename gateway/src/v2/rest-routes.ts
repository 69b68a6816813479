import { InferenceHeaderLength, parseHeaderLength } from "@ferry/contracts";
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { bodyOf, oneHeader } from "../forwarding.js";
import { errorResponses, jsonContent } from "../openapi-responses.js";
import { readiness } from "../readiness.js";
import { inferV2 } from "./infer.js";
import { V2Models, modelMetadata } from "./models.js";
import { healthResponses, modelMetadataSchema, modelParams, serverMetadataSchema, v2InferForwarding, v2InferResponses } from "./rest-docs.js";
import { serverMetadata } from "./server-metadata.js";

type ModelRequest = FastifyRequest<{ Params: { name: string; version?: string } }>;

/** The Open Inference Protocol's REST endpoints (`/v2/...`), beside Wallaroo's on the same port. */
export const v2RestRoutes: FastifyPluginAsync = async (app) => {
  const nats = app.nats;
  const models = new V2Models(nats.status);
  const tags = ["v2"];
  app.get("/v2", { schema: { operationId: "v2ServerMetadata", summary: "V2 server metadata", tags, response: { 200: { description: "name, version, extensions", content: jsonContent(serverMetadataSchema) } } } },
    async () => serverMetadata());
  app.get("/v2/health/live", { schema: { operationId: "v2Live", summary: "V2 liveness", tags, response: healthResponses("live") } },
    async () => ({ live: true }));
  app.get("/v2/health/ready", { schema: { operationId: "v2Ready", summary: "V2 readiness (as GET /ready)", tags, response: healthResponses("ready") } },
    async (_req, reply) => {
      const ready = (await readiness(nats)).status === "ready";
      return reply.code(ready ? 200 : 400).send({ ready });
    });

  for (const versioned of [false, true]) {
    const base = versioned ? "/v2/models/:name/versions/:version" : "/v2/models/:name";
    const suffix = versioned ? "Version" : "";
    app.get(base, {
      schema: { operationId: `v2ModelMetadata${suffix}`, summary: "V2 model metadata", tags, params: modelParams(versioned), response: { 200: { description: "the pipeline's inputs and outputs", content: jsonContent(modelMetadataSchema) }, ...errorResponses(["unknown_model", "unknown_version"]) } },
    }, async (req: ModelRequest) => modelMetadata(await models.get(req.params.name, req.params.version)));
    app.get(`${base}/ready`, {
      schema: { operationId: `v2ModelReady${suffix}`, summary: "V2 model readiness", tags, params: modelParams(versioned), response: { ...healthResponses("ready", { name: { type: "string" } }), ...errorResponses(["unknown_model", "unknown_version"]) } },
    }, async (req: ModelRequest, reply) => {
      const model = await models.getNow(req.params.name, req.params.version);
      return reply.code(model.ready ? 200 : 400).send({ name: model.name, ready: model.ready });
    });
    app.post(`${base}/infer`, {
      schema: { operationId: `v2ModelInfer${suffix}`, summary: "V2 inference", tags, params: modelParams(versioned), response: v2InferResponses },
      config: { forwarding: v2InferForwarding },
    }, async (req: ModelRequest, reply) => infer(req, reply, models));
  }
};

/** Passes the body to the inferers as it came (they read and write V2 themselves) and answers their bytes. */
async function infer(req: ModelRequest, reply: FastifyReply, models: V2Models): Promise<FastifyReply> {
  const h = req.headers;
  const body = bodyOf(req);
  const jsonLength = parseHeaderLength(h[InferenceHeaderLength], body.byteLength);
  const out = await inferV2(req.server.nats, models, req.params.name, req.params.version, {
    body, jsonLength, splitKey: oneHeader(h["ferry-split-key"]), requestId: oneHeader(h["ferry-request-id"]),
  });
  if (out.jsonLength !== undefined) void reply.header("Inference-Header-Content-Length", String(out.jsonLength)).header("content-type", "application/octet-stream");
  else void reply.header("content-type", "application/json");
  return reply.send(Buffer.from(out.body.buffer, out.body.byteOffset, out.body.byteLength));
}
