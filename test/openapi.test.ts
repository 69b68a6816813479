import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Value } from "@sinclair/typebox/value";
import { ErrorCodes, HealthReplySchema, InferenceRecordSchema, LogPagingHeaders, LogRecordSchema, ModelsReplySchema, PipelinesReplySchema, ReadyReplySchema, isErrorCode } from "@ferry/contracts";
import { houseRef, models } from "./helpers/paths.js";
import { ARROW_FILE, PANDAS, houseRecords, post, startTestSite, until, type TestSite } from "./helpers/site.js";

/** What the tests read of an OpenAPI response and document (see gateway/src/openapi.ts). */
interface OpenApiResponse {
  headers?: Record<string, unknown>;
  content?: Record<string, { schema: unknown }>;
}
interface OpenApiOperation {
  operationId: string;
  summary: string;
  parameters?: { name: string; in: string }[];
  requestBody?: { content: Record<string, unknown> };
  responses: Record<string, OpenApiResponse>;
}
interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Partial<Record<"get" | "post", OpenApiOperation>>>;
  components: { schemas: Record<string, unknown>; responses: Record<string, OpenApiResponse> };
}

const methods = ["GET", "POST", "PUT", "PATCH", "DELETE"];
/** The status of each shared response under components (the ones not tied to one operation). */
const componentStatus: Record<string, string> = { NotFound: "404" };
/** Responses of status ≥ 400 whose body is not the `{error, code}` body. */
const notErrorBodies = new Set([
  "get /ready 503", "get /health 503",
  // The Open Inference Protocol's readiness answers 400 {ready: false} (name too, for a model).
  "get /v2/health/ready 400", "get /v2/models/{name}/ready 400", "get /v2/models/{name}/versions/{version}/ready 400",
]);

/**
 * Every (method, path) the app registers, read from Fastify's route tree (`printRoutes`): each line is
 * `<indent>├── <segment> (METHODS)`, four columns of indent per level, and a path is its ancestors' segments joined.
 */
function registeredRoutes(tree: string): { method: string; path: string }[] {
  const stack: string[] = [];
  const out: { method: string; path: string }[] = [];
  for (const line of tree.split("\n")) {
    const m = /^((?:[│ ] {3})*)[├└]── (.*?)(?: \(([A-Z, ]+)\))?$/u.exec(line);
    if (!m) continue;
    const depth = [...m[1]!].length / 4;
    stack.length = depth;
    stack.push(m[2]!);
    const path = stack.join("");
    for (const method of (m[3] ?? "").split(",").map((s) => s.trim()).filter((s) => methods.includes(s))) out.push({ method, path });
  }
  return out;
}

/** `:name` → `{name}`, as OpenAPI writes path parameters. */
const openApiPath = (path: string): string => path.replace(/:([A-Za-z0-9_]+)/g, "{$1}");

/** The codes an error response documents (its schema's `code`: one `const`, or `anyOf` of them). */
function documentedCodes(response: OpenApiResponse): string[] {
  const schema = response.content?.["application/json"]?.schema as { properties?: { code?: { const?: string; anyOf?: { const: string }[] } } } | undefined;
  const code = schema?.properties?.code;
  assert.ok(code, `no code schema in ${JSON.stringify(response)}`);
  return code.anyOf ? code.anyOf.map((c) => c.const) : [code.const!];
}

describe("OpenAPI documentation at /docs", () => {
  let site: TestSite;
  let doc: OpenApiDocument;
  before(async () => {
    site = await startTestSite();
    const res = await fetch(`${site.url}/docs/json`);
    assert.equal(res.status, 200);
    doc = await res.json() as OpenApiDocument;
  });
  after(async () => { await site.stop(); });

  it("serves Swagger UI as HTML whose assets all come from the gateway itself", async () => {
    const res = await fetch(`${site.url}/docs`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
    // The CSP keeps the browser from loading anything from elsewhere, should a later version try to.
    assert.match(res.headers.get("content-security-policy") ?? "", /default-src 'self'/);
    const html = await res.text();
    const refs = [...html.matchAll(/\b(?:src|href)\s*=\s*["']([^"']+)["']/g)].map((m) => m[1]!);
    assert.ok(refs.length >= 3, html);
    for (const ref of refs) {
      assert.doesNotMatch(ref, /^(?:[a-z][a-z0-9+.-]*:|\/\/)/i, `external asset ${ref}`);
      const asset = await fetch(new URL(ref, `${site.url}/docs`));
      assert.equal(asset.status, 200, ref);
      const body = await asset.text();
      if (ref.endsWith(".css")) assert.doesNotMatch(body, /url\(\s*["']?(?:https?:)?\/\//i, `${ref} loads a remote url()`);
    }
    const init = await (await fetch(`${site.url}/docs/static/swagger-initializer.js`)).text();
    assert.match(init, /validatorUrl: null/);
    const code = init.split("\n").filter((l) => !/^\s*\/\//.test(l)).join("\n");
    assert.doesNotMatch(code, /https?:\/\//, "the initializer points at a remote URL");
  });

  it("/docs/json is an OpenAPI 3 document describing every route the gateway registers", () => {
    assert.match(doc.openapi, /^3\.\d+\.\d+$/);
    assert.equal(typeof doc.info.title, "string");
    assert.equal(typeof doc.info.version, "string");
    const routes = registeredRoutes(site.gateway.app.printRoutes({ commonPrefix: false }));
    assert.ok(routes.some((r) => r.path === "/pipelines/:name" && r.method === "POST"), "route tree not parsed");
    // The documentation's own routes are not part of the API.
    const api = routes.filter((r) => !r.path.startsWith("/docs"));
    for (const { method, path } of api) {
      const op = doc.paths[openApiPath(path)]?.[method.toLowerCase() as "get" | "post"];
      assert.ok(op, `${method} ${path} is registered but not documented`);
    }
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        assert.ok(site.gateway.app.hasRoute({ method: method.toUpperCase() as "GET", url: path.replace(/\{([^}]+)\}/g, ":$1") }), `${method} ${path} is documented but not registered`);
        assert.ok(op.responses["200"], `${method} ${path} documents no 200`);
        assert.ok(op.operationId && op.summary, `${method} ${path} has no operationId or summary`);
      }
    }
    // Every $ref resolves.
    for (const m of JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)) assert.ok(doc.components.schemas[m[1]!], m[1]);
  });

  it("documents the request and reply content types of inference and /logs", () => {
    for (const path of ["/infer", "/pipelines/{name}"]) {
      const op = doc.paths[path]!.post!;
      assert.deepEqual(Object.keys(op.requestBody!.content).sort(), [ARROW_FILE, "application/vnd.apache.arrow.stream", PANDAS].sort());
      assert.deepEqual(Object.keys(op.responses["200"]!.content!).sort(), [ARROW_FILE, PANDAS].sort());
      assert.ok(op.responses["503"]!.headers?.["Retry-After"], `${path}: 503 overloaded without Retry-After`);
      assert.ok(documentedCodes(op.responses["503"]!).includes("overloaded"));
    }
    assert.ok(doc.paths["/pipelines/{name}"]!.post!.parameters!.some((p) => p.in === "path" && p.name === "name"));
    const logs = doc.paths["/logs"]!.post!;
    const headers = Object.keys(logs.responses["200"]!.headers ?? {});
    assert.deepEqual(headers.sort(), [LogPagingHeaders.cursor, LogPagingHeaders.status].sort());
    const query = doc.components.schemas.LogQuery as { properties: Record<string, unknown> };
    for (const p of ["pipeline", "start_time", "end_time", "page_size", "limit", "order", "cursor"]) assert.ok(query.properties[p], `/logs parameter ${p}`);
  });

  it("every documented error code is one of contracts' ErrorCodes, under its status, with the {error, code} body", () => {
    const responses: [string, string, OpenApiResponse][] = Object.entries(doc.components.responses).map(([name, r]) => {
      assert.ok(componentStatus[name], `components.responses.${name}: status unknown to this test`);
      return [name, componentStatus[name], r];
    });
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        for (const [status, r] of Object.entries(op.responses)) {
          if (Number(status) >= 400 && !notErrorBodies.has(`${method} ${path} ${status}`)) responses.push([`${method} ${path}`, status, r]);
        }
      }
    }
    assert.ok(responses.length > 20);
    for (const [where, status, r] of responses) {
      const body = r.content?.["application/json"]?.schema as { required?: string[]; properties: { error: { type: string } } };
      assert.deepEqual(body.required, ["error", "code"], where);
      assert.equal(body.properties.error.type, "string", where);
      for (const code of documentedCodes(r)) {
        assert.ok(isErrorCode(code), `${where}: ${code} is not in ErrorCodes`);
        assert.equal(ErrorCodes[code], Number(status), `${where}: ${code} is answered with ${ErrorCodes[code]}, documented under ${status}`);
      }
    }
  });

  it("the documented schemas are contracts' schemas", () => {
    const plain = (s: unknown): unknown => JSON.parse(JSON.stringify(s));
    assert.deepEqual(doc.components.schemas.InferenceRecord, plain(InferenceRecordSchema));
    assert.deepEqual(doc.components.schemas.LogRecord, plain(LogRecordSchema));
    assert.deepEqual(doc.components.schemas.PipelinesReply, plain(PipelinesReplySchema));
  });

  it("real replies of /infer, /pipelines/{name}, /pipelines, /models, /health, /ready, /metrics and /logs validate against them", async () => {
    const house = await post(`${site.url}/infer`, houseRecords(houseRef.rows.slice(0, 3)), { "Content-Type": PANDAS });
    assert.equal(house.status, 200, JSON.stringify(house.json));
    const image = await post(`${site.url}/pipelines/edge-cv-demo`, new Uint8Array(readFileSync(join(models, "data", "image_224x224.arrow"))), { "Content-Type": ARROW_FILE });
    assert.equal(image.status, 200, JSON.stringify(image.json));
    const records = [...house.json as unknown[], ...image.json as unknown[]];
    assert.equal(records.length, 4);
    for (const rec of records) assert.ok(Value.Check(InferenceRecordSchema, rec), [...Value.Errors(InferenceRecordSchema, rec)].map((e) => `${e.path}: ${e.message}`).join("; "));
    // Not vacuous: an unknown tensor-type key or a missing field fails.
    const first = records[0] as Record<string, unknown>;
    assert.equal(Value.Check(InferenceRecordSchema, { ...first, outputs: [{ Floaty: { data: [1], dim: [1, 1], v: 1 } }] }), false);
    assert.equal(Value.Check(InferenceRecordSchema, { ...first, time: undefined }), false);

    for (const [path, schema] of [["/pipelines", PipelinesReplySchema], ["/models", ModelsReplySchema], ["/health", HealthReplySchema], ["/ready", ReadyReplySchema]] as const) {
      const res = await fetch(`${site.url}${path}`);
      const body: unknown = await res.json();
      assert.ok(doc.paths[path]!.get!.responses[String(res.status)], `${path} answered ${res.status}, which is not documented`);
      assert.ok(Value.Check(schema, body), `${path}: ${JSON.stringify(body)}`);
    }
    const metrics = await fetch(`${site.url}/metrics`);
    assert.equal(metrics.status, 200);
    const documented = Object.keys(doc.paths["/metrics"]!.get!.responses["200"]!.content!);
    assert.ok(documented.some((t) => (metrics.headers.get("content-type") ?? "").startsWith(t)), `${metrics.headers.get("content-type")} vs ${documented.join(", ")}`);

    let logs: unknown[] = [];
    await until("log records", async () => {
      logs = await (await fetch(`${site.url}/logs`, { method: "POST", body: "{}", headers: { "Content-Type": "application/json" } })).json() as unknown[];
      return logs.length >= 4;
    });
    for (const rec of logs) assert.ok(Value.Check(LogRecordSchema, rec), [...Value.Errors(LogRecordSchema, rec)].map((e) => `${e.path}: ${e.message}`).join("; "));
  });
});
