import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { FerryError, LeafDenied, encodeEdgeBundle, decodeEdgeBundle, type EdgeBundle, type EdgeCredentials, type JoinRequest } from "@ferry/contracts";
import { credentialsPath, edgeServerOptions, joinInBackground, prepareEdge, parseAs, parseStart } from "@ferry/cli";
import { quiet, until } from "./helpers/site.js";
import { freePort } from "./helpers/free-port.js";


/** Stands in for the Ops API's `POST /join` only: each token is good once, as on the real hub. */
async function startJoinStandIn(port = 0): Promise<{ server: Server; host: string; tokens: Set<string>; posts: JoinRequest[] }> {
  const tokens = new Set<string>();
  const posts: JoinRequest[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => { body += c.toString(); });
    req.on("end", () => {
      const join = JSON.parse(body) as JoinRequest;
      posts.push(join);
      res.setHeader("content-type", "application/json");
      if (req.url !== "/join" || !tokens.delete(join.join_token)) {
        res.statusCode = 401;
        res.end(JSON.stringify({ error: "join token used, expired or unknown", code: "unauthorized" }));
        return;
      }
      const creds: EdgeCredentials = {
        edge_name: join.edge_name, user: join.edge_name, password: "s3cret", leaf_url: "nats-leaf://127.0.0.1:7422",
        hub_domain: "hub", pipeline: "edge-houseprice", ops_url: "http://127.0.0.1:1", joined_at: Date.now(),
      };
      res.end(JSON.stringify(creds));
    });
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  return { server, host: `127.0.0.1:${(server.address() as { port: number }).port}`, tokens, posts };
}

function bundleFor(host: string, token: string): EdgeBundle {
  return {
    BUNDLE_VERSION: "1", EDGE_NAME: "shop-1", JOIN_TOKEN: token, OPSCENTER_HOST: host,
    PIPELINE_URL: `ferry://${host}/pipelines/edge-houseprice:3a8f63bc-a91e-40bd-947f-da19ed849063`, WORKSPACE_ID: "1",
  };
}

describe("ferry start with an EDGE_BUNDLE: the bundle, the one-time join, the credentials file", () => {
  let dir: string;
  let ops: Awaited<ReturnType<typeof startJoinStandIn>>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ferry-edge-join-"));
    ops = await startJoinStandIn();
  });
  after(async () => {
    ops.server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("reads the bundle (base64 of export lines) and refuses one that lacks keys", () => {
    const b = bundleFor("ops.example:8090", "t0");
    assert.deepEqual(decodeEdgeBundle(encodeEdgeBundle(b)), b);
    assert.throws(() => decodeEdgeBundle(Buffer.from("export EDGE_NAME=x\n").toString("base64")), (e: unknown) => e instanceof FerryError && e.code === "bad_request" && /JOIN_TOKEN/.test(e.message));
    const options = parseAs("start", ["start"], { EDGE_BUNDLE: encodeEdgeBundle(b) });
    assert.ok(options.services.includes("link"), "an edge runs the link service");
    assert.deepEqual(options.manifests, [], "an edge serves what Ops publishes, not the demo");
    assert.throws(() => parseStart(["start", "link"], {}), /EDGE_BUNDLE/);
  });

  it("joins once: the credentials are kept with mode 0600 in a 0700 folder, and the token is not needed again", async () => {
    ops.tokens.add("t1");
    const data = join(dir, "site");
    const first = await prepareEdge(encodeEdgeBundle(bundleFor(ops.host, "t1")), data, quiet);
    assert.equal(first.credentials?.user, "shop-1");
    assert.equal(first.pipeline, "edge-houseprice");
    assert.equal((await stat(credentialsPath(data))).mode & 0o777, 0o600);
    assert.equal((await stat(join(data, "edge"))).mode & 0o777, 0o700);
    const stored = JSON.parse(await readFile(credentialsPath(data), "utf8")) as EdgeCredentials;
    assert.equal(stored.password, "s3cret");
    assert.equal(JSON.stringify(stored).includes("t1"), false, "the token itself is not stored");
    const again = await prepareEdge(encodeEdgeBundle(bundleFor(ops.host, "t1")), data, quiet);
    assert.deepEqual(again.credentials, first.credentials);
    assert.equal(ops.posts.length, 1, "a restart reads the file instead of joining");
    const opts = edgeServerOptions(again);
    assert.equal(opts.jetstreamDomain, "shop-1");
    assert.deepEqual(opts.leafRemotes, [{ url: "nats-leaf://127.0.0.1:7422", user: "shop-1", password: "s3cret", denyImports: [...LeafDenied], denyExports: [...LeafDenied] }]);
  });

  it("a refused token is fatal and says a new bundle is needed; a new bundle for the same edge joins again", async () => {
    const data = join(dir, "site");
    await assert.rejects(prepareEdge(encodeEdgeBundle(bundleFor(ops.host, "stale")), data, quiet),
      (e: unknown) => e instanceof FerryError && e.code === "unauthorized" && /new EDGE_BUNDLE/.test(e.message));
    ops.tokens.add("t2");
    const rejoined = await prepareEdge(encodeEdgeBundle(bundleFor(ops.host, "t2")), data, quiet);
    assert.ok(rejoined.credentials);
    assert.equal(ops.posts.at(-1)?.join_token, "t2");
  });

  it("an unreachable hub at first join: starts unlinked, then joins in the background when the hub appears", async () => {
    const port = await freePort();
    const data = join(dir, "offline");
    const edge = await prepareEdge(encodeEdgeBundle(bundleFor(`127.0.0.1:${port}`, "t3")), data, quiet);
    assert.equal(edge.credentials, undefined);
    assert.equal(edge.pipeline, "edge-houseprice", "the pipeline comes from the bundle's PIPELINE_URL");
    assert.equal(edgeServerOptions(edge).leafRemotes, undefined);
    let linked = 0;
    const retry = joinInBackground(edge, data, quiet, async () => { linked++; }, 50);
    const late = await startJoinStandIn(port);
    try {
      late.tokens.add("t3");
      await until("joined in the background", async () => linked === 1);
      assert.equal((edge.credentials as EdgeCredentials | undefined)?.edge_name, "shop-1", "the setup carries the credentials now");
      assert.equal((await stat(credentialsPath(data))).mode & 0o777, 0o600);
    } finally {
      retry.stop();
      late.server.close();
    }
  });
});
