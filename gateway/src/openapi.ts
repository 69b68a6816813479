import { readFileSync } from "node:fs";
import type { FastifyInstance, HTTPMethods } from "fastify";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import { addSharedSchemas, verbatimComponents } from "./openapi-schemas.js";
import { errorResponses, type JsonSchema, type RouteResponse } from "./openapi-responses.js";

/** Where the API documentation is served: the UI at `/docs`, the OpenAPI document at `/docs/json` (and `/docs/yaml`). */
export const DOCS_PREFIX = "/docs";

/** A header an operation reads, as an OpenAPI parameter. */
export interface HeaderParameter {
  name: string;
  in: "header";
  required: boolean;
  description: string;
  schema: JsonSchema;
}

/**
 * What the document says of a route that forwards bytes: its request body and the headers it passes on.
 * No route schema holds them, since Fastify would validate them, and the gateway does not read these bodies.
 */
export interface ForwardingDoc {
  requestBody: { required: boolean; description: string; content: Record<string, { schema: JsonSchema }> };
  parameters?: HeaderParameter[];
}

declare module "fastify" {
  interface FastifyContextConfig {
    /** See {@link ForwardingDoc}. */
    forwarding?: ForwardingDoc;
  }
}

/** An OpenAPI operation, as far as this module completes it. */
interface Operation {
  parameters?: unknown[];
  requestBody?: ForwardingDoc["requestBody"];
}

interface Document {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, JsonSchema>; responses?: Record<string, RouteResponse> };
}

export function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;
  } catch {
    return "0.0.0";
  }
}

/** The document's own parts: everything else comes from the routes' schemas. */
const openapi = {
  openapi: "3.1.0",
  info: {
    title: "Ferry gateway",
    version: packageVersion(),
    description: "Wallaroo-compatible edge inference API. Errors are always JSON `{\"error\", \"code\"}`; an unknown route answers 404 `not_found`.",
  },
  tags: [
    { name: "status", description: "what the site serves" },
    { name: "inference", description: "run a pipeline" },
    { name: "logs", description: "inference logs" },
    { name: "operations", description: "liveness, readiness and metrics" },
    { name: "v2", description: "the Open Inference Protocol (KServe V2): each pipeline is a model" },
  ],
  components: { responses: { NotFound: errorResponses(["not_found"])["404"]! } },
};

/** Collects the {@link ForwardingDoc} of each route as it is added, keyed `METHOD path`. */
function collectForwarding(app: FastifyInstance): Map<string, ForwardingDoc> {
  const docs = new Map<string, ForwardingDoc>();
  app.addHook("onRoute", (route) => {
    const doc = route.config?.forwarding;
    if (!doc) return;
    const path = route.url.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
    for (const method of ([] as HTTPMethods[]).concat(route.method)) docs.set(`${method.toLowerCase()} ${path}`, doc);
  });
  return docs;
}

/** The generated document, completed: forwarded bodies and headers, and contracts' schemas as they are written. */
function complete(doc: Document, forwarding: Map<string, ForwardingDoc>): Document {
  for (const [key, extra] of forwarding) {
    const [method, path] = key.split(" ") as [string, string];
    const op = doc.paths[path]?.[method];
    if (!op) continue;
    op.requestBody = extra.requestBody;
    if (extra.parameters) op.parameters = [...(op.parameters ?? []), ...extra.parameters];
  }
  Object.assign(doc.components.schemas, verbatimComponents());
  // A JSON round trip unshares the document from the route schemas, so nobody can mutate them through it.
  return JSON.parse(JSON.stringify(doc)) as Document;
}

/**
 * Serves the API documentation: @fastify/swagger in dynamic mode builds the document from the routes'
 * schemas (contracts' schemas, see openapi-schemas.ts), and Swagger UI comes from the npm package's own
 * files (no CDN: edge sites are often offline). Register it before the routes: it learns them as they are added.
 */
export function registerOpenApi(app: FastifyInstance): void {
  addSharedSchemas(app);
  const forwarding = collectForwarding(app);
  void app.register(swagger, {
    // The types of @fastify/swagger name OpenAPI 3.0 documents; a 3.1 document has the same fields here.
    openapi: openapi as never,
    // Shared schemas keep their names under components (the default names them def-0, def-1, …).
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => (typeof json.$id === "string" ? json.$id : `def-${i}`) },
    // OpenAPI 3.1 has `const`: the error bodies list their codes with it.
    convertConstToEnum: false,
    transformObject: (doc) => ("openapiObject" in doc ? complete(doc.openapiObject as unknown as Document, forwarding) : doc.swaggerObject) as never,
  });
  void app.register(swaggerUi, {
    routePrefix: DOCS_PREFIX,
    theme: { title: "Ferry gateway API" },
    // Explicit, though the plugin defaults to it: Swagger UI's own default sends the document to validator.swagger.io.
    validatorUrl: false,
    // A CSP that lets the page load nothing from elsewhere, so an external asset would show up as a broken page.
    staticCSP: "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'self'",
  });
}
