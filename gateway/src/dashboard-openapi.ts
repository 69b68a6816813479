import { MediaTypes, errorBodyOf } from "@ferry/contracts";
import type { JsonSchema, OpenApiOperation, OpenApiResponse } from "./openapi.js";

/** Where the dashboard is served (see dashboard.ts). */
export const DASHBOARD_PREFIX = "/ui";

const json = (schema: JsonSchema): Record<string, { schema: JsonSchema }> => ({ [MediaTypes.json]: { schema } });
const html: OpenApiResponse = { description: "the dashboard page", content: { "text/html": { schema: { type: "string" } } } };
const notBuiltResponse: OpenApiResponse = { description: "`unavailable`: the page is not built (`npm run build`)", content: json(errorBodyOf(["unavailable"])) };
const notFoundResponse: OpenApiResponse = { description: "`not_found`: no such asset", content: json(errorBodyOf(["not_found"])) };

/** The dashboard's operations, as OpenAPI paths (plain JSON). */
export function dashboardOpenApiPaths(): Record<string, { get: OpenApiOperation }> {
  return {
    [DASHBOARD_PREFIX]: {
      get: {
        operationId: "dashboard", summary: "Site dashboard", tags: ["operations"],
        description: "A web page: pipelines and models with status and versions, requests/s and latency, the latest log records, the Ops link state.",
        responses: { 200: html, 503: notBuiltResponse },
      },
    },
    [`${DASHBOARD_PREFIX}/`]: {
      get: {
        operationId: "dashboardSlash", summary: "Site dashboard (same page)", tags: ["operations"],
        description: "The same page as `/ui`.",
        responses: { 200: html, 503: notBuiltResponse },
      },
    },
    [`${DASHBOARD_PREFIX}/assets/{file}`]: {
      get: {
        operationId: "dashboardAsset", summary: "Dashboard assets", tags: ["operations"],
        description: "The page's script and styles, built by Vite under content-hashed names (cached for a year).",
        parameters: [{ name: "file", in: "path", required: true, description: "an asset's file name, as the page names it", schema: { type: "string" } }],
        responses: { 200: { description: "the asset (JavaScript or CSS)" }, 404: notFoundResponse, 503: notBuiltResponse },
      },
    },
    [`${DASHBOARD_PREFIX}/stats`]: {
      get: {
        operationId: "dashboardStats", summary: "Dashboard figures", tags: ["operations"],
        description: "The gateway's own inference traffic (`POST /infer`, `POST /pipelines/{name}`) per second over the last minute, "
          + "with latency quantiles, totals and NATS counters: what the dashboard's chart draws.",
        responses: { 200: { description: "traffic figures", content: json({ $ref: "#/components/schemas/DashboardStats" }) } },
      },
    },
  };
}
