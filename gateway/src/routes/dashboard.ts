import { join } from "node:path";
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import fastifyStatic from "@fastify/static";
import type { NatsConnection } from "@nats-io/transport-node";
import { FerryError, errorBodyOf, type DashboardStats } from "@ferry/contracts";
import { jsonContent, plainSchema, type RouteResponse } from "../openapi-responses.js";
import { schemaRef } from "../openapi-schemas.js";
import { sendError } from "../error-replies.js";
import { siteTraffic } from "../site-traffic.js";
import type { TrafficWindow } from "../traffic-window.js";

/** Where the dashboard is served. */
export const DASHBOARD_PREFIX = "/ui";

/**
 * The page's CSP: everything from the gateway itself, nothing inline, no frames. The page only runs its
 * bundled script and fetches the gateway's own API, so anything from elsewhere would be a bug; the browser
 * refuses it and reports it in the console, where the dashboard's test looks.
 */
export const DASHBOARD_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
  + "font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/** Options of {@link dashboardRoutes}. */
export interface DashboardRoutesOptions {
  nc: NatsConnection;
  /** This gateway's inference traffic. */
  traffic: TrafficWindow;
  /** The built page (Vite's output). */
  dist: string;
  /** Whether it is built (its index.html exists). */
  built: boolean;
}

/** Names Vite gives the page's assets (`index-<hash>.js`): one path segment, no leading dot. */
const ASSET_NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/;

const notBuiltResponse: RouteResponse = { description: "`unavailable`: the page is not built (`npm run build`)", content: jsonContent(plainSchema(errorBodyOf(["unavailable"]))) };
const notFoundResponse: RouteResponse = { description: "`not_found`: no such asset", content: jsonContent(plainSchema(errorBodyOf(["not_found"]))) };
const pageResponses = { 200: { description: "the dashboard page", content: { "text/html": { schema: { type: "string" } } } }, 503: notBuiltResponse };
const text = { type: "string" };

const pageSchema = (operationId: string, summary: string, description: string) => ({ operationId, summary, description, tags: ["operations"], response: pageResponses });

const statsSchema = {
  operationId: "dashboardStats", summary: "Dashboard figures", tags: ["operations"],
  description: "The gateway's own inference traffic (`POST /infer`, `POST /pipelines/{name}`) per second over the last minute, "
    + "with latency quantiles, totals and NATS counters: what the dashboard's chart draws.",
  response: { 200: { description: "traffic figures", content: jsonContent(schemaRef("DashboardStats")) } },
};

const assetSchema = {
  operationId: "dashboardAsset", summary: "Dashboard assets", tags: ["operations"],
  description: "The page's script and styles, built by Vite under content-hashed names (cached for a year).",
  params: { type: "object", properties: { file: { type: "string", description: "an asset's file name, as the page names it" } }, required: ["file"] },
  response: {
    200: { description: "the asset (JavaScript or CSS)", content: { "text/javascript": { schema: text }, "text/css": { schema: text } } },
    404: notFoundResponse, 503: notBuiltResponse,
  },
};

/**
 * The dashboard's routes: the page at `/ui` and `/ui/`, its assets, and `GET /ui/stats`. Encapsulated, so
 * the CSP header and reply.sendFile stay with them.
 */
export const dashboardRoutes: FastifyPluginAsync<DashboardRoutesOptions> = async (scope, { nc, traffic, dist, built }) => {
  scope.addHook("onSend", (_req, reply, payload, done) => {
    void reply.header("content-security-policy", DASHBOARD_CSP).header("x-content-type-options", "nosniff");
    done(null, payload);
  });
  scope.get(`${DASHBOARD_PREFIX}/stats`, { schema: statsSchema }, async (): Promise<DashboardStats> => {
    const site = await siteTraffic(nc, traffic);
    const s = nc.stats();
    return { ...site, nats: { in_msgs: s.inMsgs, out_msgs: s.outMsgs, in_bytes: s.inBytes, out_bytes: s.outBytes } };
  });
  // Explicit routes rather than @fastify/static's wildcard, so that each one has a path the OpenAPI document can name.
  await scope.register(fastifyStatic, { root: dist, serve: false });
  const page = async (_req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> =>
    // Revalidated on each load: a rebuild changes the asset names it points at.
    built ? reply.sendFile("index.html", { maxAge: 0, immutable: false }) : unavailable(reply, dist);
  scope.get(DASHBOARD_PREFIX, { schema: pageSchema("dashboard", "Site dashboard", "A web page: pipelines and models with status and versions, requests/s and latency, the latest log records, the Ops link state.") }, page);
  scope.get(`${DASHBOARD_PREFIX}/`, { schema: pageSchema("dashboardSlash", "Site dashboard (same page)", "The same page as `/ui`.") }, page);
  scope.get<{ Params: { file: string } }>(`${DASHBOARD_PREFIX}/assets/:file`, { schema: assetSchema }, async (req, reply) => {
    if (!built) return unavailable(reply, dist);
    if (!ASSET_NAME.test(req.params.file)) {
      reply.callNotFound();
      return reply;
    }
    // Content-hashed names: a file never changes under its name.
    return reply.sendFile(req.params.file, join(dist, "assets"), { maxAge: "365d", immutable: true });
  });
};

function unavailable(reply: FastifyReply, dist: string): FastifyReply {
  return sendError(reply, new FerryError("unavailable", `the dashboard is not built (no ${join(dist, "index.html")}): run npm run build, then restart the gateway`));
}
