import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { FerryError, Subjects, checkRequestBody, inferSubject, inputFormatOf, isSubjectToken } from "@ferry/contracts";
import { collectStatus } from "../status-client.js";
import { bodyOf, forwardedHeaders, sendForwarded } from "../forwarding.js";
import type { GatewayNats } from "../nats-plugin.js";
import { inferenceRoute } from "./infer-docs.js";

/** Options of {@link inferRoutes}. */
export interface InferRoutesOptions {
  /** Pipelines the site is expected to serve besides the deployed ones. */
  pipelines: readonly string[];
}

const unknownPipeline = (name: string): FerryError => new FerryError("unknown_pipeline", `unknown pipeline ${JSON.stringify(name)}`);

/** `POST /infer` (the current pipeline) and `POST /pipelines/{name}`: the body goes to the inferers as it came. */
export const inferRoutes: FastifyPluginAsync<InferRoutesOptions> = async (app, options) => {
  const nats = app.nats;
  const forward = async (subject: string, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const body = bodyOf(req);
    // The inferer checks this too (durable requests reach it directly); here it saves a round trip.
    const format = inputFormatOf(req.headers["content-type"]);
    if (format) checkRequestBody(format, body);
    return sendForwarded(reply, await nats.coalescer.send(subject, { body, headers: forwardedHeaders(req), format }));
  };

  app.post("/infer", inferenceRoute("infer", "Infer with the site's current pipeline", "Always points at the currently deployed pipeline."),
    async (req, reply) => forward(Subjects.infer, req, reply));

  app.post<{ Params: { name: string } }>("/pipelines/:name", inferenceRoute("inferPipeline", "Infer with a named pipeline", "`name` is an `id` from `GET /pipelines`.", {
    params: { type: "object", properties: { name: { type: "string", description: "the pipeline's id" } }, required: ["name"] },
    errors: ["unknown_pipeline"],
  }), async (req, reply) => {
    const name = req.params.name;
    if (!isSubjectToken(name)) throw unknownPipeline(name);
    try {
      return await forward(inferSubject(name), req, reply);
    } catch (err) {
      if (err instanceof FerryError && err.code === "no_inferer" && !(await isKnownPipeline(nats, options.pipelines, name))) throw unknownPipeline(name);
      throw err;
    }
  });
};

/** Whether the site knows a pipeline: expected, deployed, or reported by an inferer. */
async function isKnownPipeline(nats: GatewayNats, expected: readonly string[], name: string): Promise<boolean> {
  if (expected.includes(name) || (await nats.stores.deployedPipelines()).includes(name)) return true;
  const statuses = await collectStatus(nats.nc);
  return statuses.some((s) => s.pipelines.some((p) => p.id === name));
}
