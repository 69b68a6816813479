// The Ops API's authentication and roles, on a real hub over real HTTP: every route of the role table
// refused without a token and with each weaker role, API tokens (hashed, expiring, revocable, made by
// the CLI), OIDC JWTs from keys made here, the first start's admin token, and no token in any log.
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from "jose";
import { pino, type Logger } from "pino";
import { RouteRoles, roleOf, type Role } from "@ferry/ops";
import { startTestHub, type TestHub } from "./helpers/hub.js";
import { models, root } from "./helpers/paths.js";

const cli = join(root, "cli", "dist", "main.js");
const run = promisify(execFile);
const issuer = "https://idp.example.test/realms/ferry";
const audience = "ferry-ops";

interface Answer { status: number; json: Record<string, unknown>; challenge: string | null }

/** One Ops API call, with `token` as the bearer token when given. */
async function call(hub: TestHub, method: string, path: string, token?: string, body?: unknown): Promise<Answer> {
  const headers: Record<string, string> = { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { "Content-Type": "application/json" } : {}) };
  const res = await hub.fetch(`${hub.ops.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) as Record<string, unknown> : {}, challenge: res.headers.get("www-authenticate") };
}

/** The table's routes as [key, method, a concrete path, role]. */
const routes = Object.entries(RouteRoles).map(([key, role]) => {
  const [method, pattern] = key.split(" ") as [string, string];
  return { key, method, path: pattern.replace(/:\w+/g, "no-such-thing"), role: role as Role | "public" };
});

/** The pino lines a hub writes, kept to grep for secrets. */
function capturingLogger(): { logger: Logger; text: () => string } {
  const chunks: string[] = [];
  const sink = new Writable({ write(chunk: Buffer, _enc, done) { chunks.push(chunk.toString("utf8")); done(); } });
  return { logger: pino({ level: "trace" }, sink), text: () => chunks.join("") };
}

/** Every file under `dir`, as latin1 text (to look for a secret in the hub's store). */
async function filesText(dir: string): Promise<string> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(await readFile(join(e.parentPath, e.name), "latin1"));
  }
  return out.join("\n");
}

/** Signing keys made here, and the JWKS the hub reads them from. */
interface Keys { rsa: CryptoKey; ec: CryptoKey; other: CryptoKey; jwks: { keys: JWK[] } }

async function makeKeys(): Promise<Keys> {
  const rsa = await generateKeyPair("RS256");
  const ec = await generateKeyPair("ES256");
  const other = await generateKeyPair("RS256");
  const jwks = { keys: [{ ...(await exportJWK(rsa.publicKey)), kid: "rsa", alg: "RS256", use: "sig" }, { ...(await exportJWK(ec.publicKey)), kid: "ec", alg: "ES256", use: "sig" }] };
  return { rsa: rsa.privateKey, ec: ec.privateKey, other: other.privateKey, jwks };
}

interface JwtSpec { claims?: Record<string, unknown>; key?: CryptoKey; alg?: string; kid?: string; iss?: string; aud?: string; exp?: number | string | null }

function jwt(keys: Keys, s: JwtSpec = {}): Promise<string> {
  const j = new SignJWT(s.claims ?? { ferry_role: "viewer" })
    .setProtectedHeader({ alg: s.alg ?? "RS256", kid: s.kid ?? "rsa" }).setIssuer(s.iss ?? issuer).setAudience(s.aud ?? audience).setSubject("alice").setIssuedAt();
  if (s.exp !== null) j.setExpirationTime(s.exp ?? "5m");
  return j.sign(s.key ?? (s.alg === "ES256" ? keys.ec : keys.rsa));
}

/** Serves the JWKS over HTTP, as an OIDC provider does. */
async function serveJwks(jwks: unknown): Promise<{ server: Server; url: string }> {
  const server = createServer((_req, res) => res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(jwks)));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json` };
}

describe("Ops API: bearer tokens and roles", () => {
  let hub: TestHub;
  let keys: Keys;
  let jwksServer: Server;
  const log = capturingLogger();
  /** Every secret this suite handles: none may reach the log. */
  const secrets: string[] = [];
  const tokens: Partial<Record<Role, string>> = {};

  /** A token of `role` made through the API; resolves to the token and its id. */
  const makeToken = async (role: Role, extra: Record<string, unknown> = {}): Promise<{ token: string; id: string }> => {
    const made = await call(hub, "POST", "/tokens", hub.adminToken, { role, name: `test ${role}`, ...extra });
    assert.equal(made.status, 201, JSON.stringify(made.json));
    secrets.push(made.json.token as string);
    return { token: made.json.token as string, id: made.json.id as string };
  };

  before(async () => {
    keys = await makeKeys();
    const jwks = await serveJwks(keys.jwks);
    jwksServer = jwks.server;
    hub = await startTestHub({ logger: log.logger, oidc: { issuer, audience, jwks: jwks.url } });
    secrets.push(hub.adminToken);
    tokens.admin = hub.adminToken;
    tokens.viewer = (await makeToken("viewer")).token;
    tokens.publisher = (await makeToken("publisher")).token;
  });

  after(async () => {
    await hub?.destroy();
    jwksServer?.close();
  });

  it("every route of the role table, without a token: 401 with a Bearer challenge (public routes answer)", async () => {
    for (const r of routes) {
      const a = await call(hub, r.method, r.path);
      if (r.role === "public") {
        assert.notEqual(a.status, 401, `${r.key} is public`);
        assert.equal(a.challenge, null, r.key);
        continue;
      }
      assert.equal(a.status, 401, `${r.key} without a token`);
      assert.equal(a.challenge, 'Bearer realm="ferry-ops"', r.key);
      assert.equal(a.json.code, "unauthorized", r.key);
      assert.equal(typeof a.json.error, "string", r.key);
    }
    assert.equal((await call(hub, "GET", "/health")).status, 200);
    assert.equal((await hub.fetch(`${hub.ops.url}/edges`, { method: "HEAD" })).status, 401, "HEAD needs what GET needs");
  });

  it("a wrong token, another scheme, or no route at all: 401 too (invalid_token where a token was given)", async () => {
    for (const bad of [`ferry_${"A".repeat(43)}`, "not-a-jwt", `${tokens.viewer}x`]) {
      const a = await call(hub, "GET", "/edges", bad);
      assert.equal(a.status, 401, bad);
      assert.equal(a.challenge, 'Bearer realm="ferry-ops", error="invalid_token"');
      assert.equal(a.json.code, "unauthorized");
    }
    const basic = await hub.fetch(`${hub.ops.url}/edges`, { headers: { Authorization: `Basic ${Buffer.from(`admin:${hub.adminToken}`).toString("base64")}` } });
    assert.equal(basic.status, 401);
    assert.equal(basic.headers.get("www-authenticate"), 'Bearer realm="ferry-ops"');
    assert.equal((await call(hub, "GET", "/no-such-route")).status, 401, "no route: the caller learns nothing without a token");
    assert.equal((await call(hub, "GET", "/no-such-route", tokens.viewer)).status, 404);
  });

  it("a route missing from the role table cannot be registered", () => {
    assert.throws(() => roleOf("GET", "/secret-admin-thing"), /no entry in RouteRoles/);
    assert.equal(roleOf("HEAD", "/edges"), "viewer");
  });

  it("each weaker role gets 403 forbidden on every route that needs more", async () => {
    for (const r of routes.filter((x) => x.role === "publisher" || x.role === "admin")) {
      const weaker: Role[] = r.role === "admin" ? ["viewer", "publisher"] : ["viewer"];
      for (const role of weaker) {
        const a = await call(hub, r.method, r.path, tokens[role]);
        assert.equal(a.status, 403, `${role} on ${r.key}`);
        assert.equal(a.json.code, "forbidden", `${role} on ${r.key}`);
        assert.match(String(a.json.error), new RegExp(`needs the ${r.role} role`));
        assert.equal(a.challenge, 'Bearer realm="ferry-ops", error="insufficient_scope"');
      }
    }
  });

  it("the right role works: viewer reads, publisher uploads and publishes, admin manages edges and tokens", async () => {
    for (const path of ["/edges", "/pipelines"]) assert.equal((await call(hub, "GET", path, tokens.viewer)).status, 200, path);
    const logs = await call(hub, "POST", "/logs", tokens.viewer, { page_size: 10 });
    assert.equal(logs.status, 200, JSON.stringify(logs.json));
    const bytes = await readFile(join(models, "house-price-estimator.onnx"));
    const up = await hub.fetch(`${hub.ops.url}/models`, { method: "POST", body: bytes, headers: { "Content-Type": "application/octet-stream", Authorization: `Bearer ${tokens.publisher}` } });
    assert.equal(up.status, 201);
    const { sha256 } = await up.json() as { sha256: string };
    const published = await call(hub, "POST", "/pipelines/edge-houseprice/publish", tokens.publisher, { steps: [{ model: "house-price-estimator", sha256 }] });
    assert.equal(published.status, 200, JSON.stringify(published.json));
    assert.equal((await call(hub, "GET", "/edges", tokens.publisher)).status, 200, "a publisher also reads");
    const added = await call(hub, "POST", "/edges", tokens.admin, { name: "shop-1", pipeline: "edge-houseprice" });
    assert.equal(added.status, 201, JSON.stringify(added.json));
    assert.equal((await call(hub, "DELETE", "/edges/shop-1", tokens.admin)).status, 200);
    assert.equal((await call(hub, "GET", "/tokens", tokens.admin)).status, 200);
  });

  it("tokens: listed without secret or hash; an expired or revoked one gets 401; bad requests are refused", async () => {
    const short = await makeToken("viewer", { ttl_ms: 1 });
    await new Promise((r) => setTimeout(r, 20));
    const expired = await call(hub, "GET", "/edges", short.token);
    assert.equal(expired.status, 401);
    assert.match(String(expired.json.error), /expired/);
    const listed = (await call(hub, "GET", "/tokens", tokens.admin)).json as unknown as Record<string, unknown>[];
    assert.ok(listed.length >= 4);
    for (const t of listed) assert.deepEqual(Object.keys(t).sort(), ["created_at", "expired", "expires_at", "id", "name", "role"]);
    assert.equal(listed.find((t) => t.id === short.id)?.expired, true);
    assert.equal(listed.find((t) => t.name === "FERRY_OPS_ADMIN_TOKEN")?.expires_at, null);
    assert.ok((listed.find((t) => t.name === "test viewer")?.expires_at as number) > Date.now() + 89 * 86_400_000, "90 days by default");

    const gone = await makeToken("publisher");
    assert.equal((await call(hub, "GET", "/edges", gone.token)).status, 200);
    const revoked = await call(hub, "DELETE", `/tokens/${gone.id}`, tokens.admin);
    assert.deepEqual(revoked.json, { revoked: gone.id });
    const after = await call(hub, "GET", "/edges", gone.token);
    assert.equal(after.status, 401);
    assert.equal(after.challenge, 'Bearer realm="ferry-ops", error="invalid_token"');
    assert.equal((await call(hub, "DELETE", `/tokens/${gone.id}`, tokens.admin)).json.code, "not_found");

    for (const body of [{ role: "root" }, {}, { role: "viewer", ttl_ms: -1 }, { role: "viewer", ttl_ms: "90d" }, { role: "viewer", name: "<script>" }]) {
      const a = await call(hub, "POST", "/tokens", tokens.admin, body);
      assert.equal(a.status, 400, JSON.stringify(body));
      assert.equal(a.json.code, "bad_request");
    }
  });

  it("tokens are stored only as sha256: neither the bucket nor any file of the hub holds one", async () => {
    const kv = await new Kvm(jetstream(hub.nc)).open("ferry-ops-tokens");
    const stored: string[] = [];
    for await (const key of await kv.keys()) stored.push(`${key} ${(await kv.get(key))?.string() ?? ""}`);
    const onDisk = await filesText(hub.dir);
    for (const token of [hub.adminToken, tokens.viewer!, tokens.publisher!]) {
      const hash = createHash("sha256").update(token).digest("hex");
      assert.ok(stored.some((s) => s.startsWith(`${hash} `) && s.includes(`"sha256":"${hash}"`)), "the hash is the key and in the record");
      assert.ok(onDisk.includes(hash), "the check reads the store (the hash is there)");
      assert.ok(!stored.some((s) => s.includes(token)), "no token in the bucket");
      assert.ok(!onDisk.includes(token), "no token in the hub's files");
      assert.ok(!onDisk.includes(token.slice("ferry_".length)), "nor its secret part");
    }
  });

  it("the CLI creates, lists and revokes tokens through the API with FERRY_OPS_TOKEN", async () => {
    const caFile = join(hub.dir, "ca-for-the-cli.pem");
    await writeFile(caFile, hub.ops.ca);
    const env = { ...process.env, FERRY_OPS_URL: hub.ops.url, FERRY_OPS_TOKEN: hub.adminToken, FERRY_OPS_CA: caFile };
    const created = await run(process.execPath, [cli, "ops", "token", "create", "--role", "viewer", "--name", "ci-bot", "--ttl", "1h"], { env });
    const token = created.stdout.trim();
    secrets.push(token);
    assert.match(token, /^ferry_[A-Za-z0-9_-]{43}$/);
    assert.match(created.stderr, /made viewer token [0-9a-f]+ \(ci-bot\), expires/);
    assert.equal((await call(hub, "GET", "/edges", token)).status, 200);
    const listed = await run(process.execPath, [cli, "ops", "token", "list"], { env });
    const line = listed.stdout.split("\n").find((l) => l.includes("ci-bot"))!;
    assert.match(line, /^[0-9a-f]+ +viewer +ci-bot /);
    assert.ok(!listed.stdout.includes("ferry_"), "the list shows no token");
    const id = line.split(/ +/)[0]!;
    const revoked = await run(process.execPath, [cli, "ops", "token", "revoke", id], { env });
    assert.equal(revoked.stdout, `revoked ${id}\n`);
    assert.equal((await call(hub, "GET", "/edges", token)).status, 401);

    const asViewer = await run(process.execPath, [cli, "ops", "token", "list"], { env: { ...env, FERRY_OPS_TOKEN: tokens.viewer } }).catch((err: unknown) => err as { code: number; stderr: string });
    assert.equal((asViewer as { code: number }).code, 1);
    assert.match((asViewer as { stderr: string }).stderr, /403 forbidden/);
    const none = await run(process.execPath, [cli, "ops", "token", "list"], { env: { ...env, FERRY_OPS_TOKEN: "" } }).catch((err: unknown) => err as { code: number; stderr: string });
    assert.equal((none as { code: number }).code, 2);
    assert.match((none as { stderr: string }).stderr, /FERRY_OPS_TOKEN/);
  });

  it("OIDC: a JWT signed by the provider's key (RS256, ES256) works with its role claim", async () => {
    const publisher = await jwt(keys, { claims: { ferry_role: "publisher" } });
    const adminByArray = await jwt(keys, { alg: "ES256", kid: "ec", claims: { ferry_role: ["viewer", "admin", "unknown"] } });
    secrets.push(publisher, adminByArray);
    assert.equal((await call(hub, "GET", "/edges", publisher)).status, 200);
    const denied = await call(hub, "POST", "/edges", publisher, { name: "x", pipeline: "edge-houseprice" });
    assert.equal(denied.status, 403);
    assert.match(String(denied.json.error), /this JWT has publisher/);
    assert.equal((await call(hub, "GET", "/tokens", adminByArray)).status, 200, "an array claim: its strongest role");
  });

  it("OIDC refuses a bad signature, another audience or issuer, a past or missing expiry, and an unknown role with 401", async () => {
    const now = Math.floor(Date.now() / 1000);
    const bad: [string, JwtSpec][] = [
      ["signed by another key", { key: keys.other }],
      ["another audience", { aud: "someone-else" }],
      ["another issuer", { iss: "https://evil.example.test" }],
      ["expired", { exp: now - 600 }],
      ["no expiry", { exp: null }],
      ["an unknown role", { claims: { ferry_role: "root" } }],
      ["no role", { claims: { name: "alice" } }],
    ];
    for (const [what, spec] of bad) {
      const token = await jwt(keys, spec);
      secrets.push(token);
      const a = await call(hub, "GET", "/edges", token);
      assert.equal(a.status, 401, what);
      assert.equal(a.json.code, "unauthorized", what);
      assert.equal(a.challenge, 'Bearer realm="ferry-ops", error="invalid_token"', what);
    }
  });

  it("no token, API token or JWT, reaches the log (which did log the requests)", () => {
    const text = log.text();
    assert.match(text, /"url":"\/tokens"/, "the requests were logged");
    assert.match(text, /Ops API token created/);
    assert.ok(secrets.length >= 10);
    for (const s of secrets) assert.ok(!text.includes(s), `a token is in the log: ${s.slice(0, 10)}…`);
  });
});

describe("Ops hub first start: an admin token printed once", () => {
  it("Ops makes an admin token only when none is stored; JWKS from a file (ES256)", async () => {
    const keys = await makeKeys();
    const dir = await mkdtemp(join(tmpdir(), "ferry-auth-"));
    const jwksFile = join(dir, "jwks.json");
    await writeFile(jwksFile, JSON.stringify(keys.jwks));
    const oidc = { issuer, audience, jwks: jwksFile, roleClaim: "realm_access.roles" };
    let hub = await startTestHub({ adminToken: undefined, oidc }, join(dir, "hub"));
    try {
      const first = hub.ops.adminTokenMade;
      assert.match(first ?? "", /^ferry_[A-Za-z0-9_-]{43}$/);
      assert.equal((await call(hub, "GET", "/tokens", first)).status, 200);
      const es = await jwt(keys, { alg: "ES256", kid: "ec", claims: { realm_access: { roles: ["publisher"] } } });
      assert.equal((await call(hub, "GET", "/pipelines", es)).status, 200);
      assert.equal((await call(hub, "GET", "/tokens", es)).status, 403);
      await hub.stop();
      hub = await hub.restart();
      assert.equal(hub.ops.adminTokenMade, undefined, "later starts make none");
      assert.equal((await call(hub, "GET", "/tokens", first)).status, 200, "the first token still works");
    } finally {
      await hub.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("`ferry start ops` prints it on stdout, not in a log line; a restart prints no token", { timeout: 90_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), "ferry-auth-cli-"));
    const startOps = async (): Promise<string> => {
      const child = spawn(process.execPath, [cli, "start", "ops", "--data", dir, "--ops-port", "0", "--nats-port", "0", "--leaf-port", "0", "--host", "127.0.0.1", "--log-level", "debug"], {
        env: { ...process.env, FERRY_OPS_ADMIN_TOKEN: "" }, stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      child.stdout.on("data", (d: Buffer) => { out += d.toString("utf8"); });
      child.stderr.on("data", (d: Buffer) => { out += d.toString("utf8"); });
      const deadline = Date.now() + 60_000;
      while (!out.includes("Ctrl-C stops it.") && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      child.kill("SIGTERM");
      await once(child, "exit");
      assert.ok(out.includes("Ops hub is up"), out);
      return out;
    };
    try {
      const first = await startOps();
      const token = /export FERRY_OPS_TOKEN=(ferry_[A-Za-z0-9_-]{43})/.exec(first)?.[1];
      assert.ok(token, first);
      const lines = first.split("\n").filter((l) => l.includes(token));
      assert.deepEqual(lines, [`  export FERRY_OPS_TOKEN=${token}`], "only the message holds it, no log line");
      assert.match(first, /"msg":"first start: made an admin token for the Ops API"/);
      const second = await startOps();
      assert.ok(!/ferry_[A-Za-z0-9_-]{43}/.test(second), "a restart prints no token");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
