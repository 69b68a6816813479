import assert from "node:assert/strict";
import { createServer, type Server } from "node:https";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { FerryError, LeafDenied, encodeEdgeBundle, decodeEdgeBundle, type EdgeBundle, type EdgeCredentials, type JoinRequest } from "@ferry/contracts";
import { fromSeed } from "@nats-io/nkeys";
import { credentialsPath, edgeServerOptions, hubCaPath, joinInBackground, newIdentity, prepareEdge, parseAs, parseStart, seedPath } from "@ferry/cli";
import { caFingerprint, makeCa, makeServerCert, type CertPair } from "@ferry/natsd";
import { quiet, until } from "./helpers/site.js";
import { freePort } from "./helpers/free-port.js";


/** The stand-in's CA and the certificate it serves (as the hub does: its own, then the CA). */
interface StandInTls { ca: CertPair; server: CertPair }

async function standInTls(ca?: CertPair): Promise<StandInTls> {
  const authority = ca ?? await makeCa("stand-in hub CA");
  return { ca: authority, server: await makeServerCert(authority, ["127.0.0.1", "localhost"]) };
}

/** Stands in for the Ops API's `POST /join` only, over HTTPS: each token is good once, as on the real hub. */
async function startJoinStandIn(tls: StandInTls, port = 0): Promise<{ server: Server; host: string; tokens: Set<string>; posts: JoinRequest[] }> {
  const tokens = new Set<string>();
  const posts: JoinRequest[] = [];
  const server = createServer({ key: tls.server.key, cert: `${tls.server.cert}${tls.ca.cert}`, minVersion: "TLSv1.2" }, (req, res) => {
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
        edge_name: join.edge_name, nkey: join.nkey, leaf_url: "nats-leaf://127.0.0.1:7422",
        hub_domain: "hub", pipeline: "edge-houseprice", ops_url: "http://127.0.0.1:1", joined_at: Date.now(),
      };
      res.end(JSON.stringify(creds));
    });
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  return { server, host: `127.0.0.1:${(server.address() as { port: number }).port}`, tokens, posts };
}

let pinned: StandInTls;

function bundleFor(host: string, token: string, pin = caFingerprint(pinned.ca.cert)): EdgeBundle {
  return {
    BUNDLE_VERSION: "1", EDGE_NAME: "shop-1", JOIN_TOKEN: token, OPSCENTER_HOST: host,
    PIPELINE_URL: `ferry://${host}/pipelines/edge-houseprice:3a8f63bc-a91e-40bd-947f-da19ed849063`, WORKSPACE_ID: "1",
    OPSCENTER_CA_SHA256: pin,
  };
}

describe("ferry start with an EDGE_BUNDLE: the bundle, the one-time join, the credentials file", () => {
  let dir: string;
  let ops: Awaited<ReturnType<typeof startJoinStandIn>>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ferry-edge-join-"));
    pinned = await standInTls();
    ops = await startJoinStandIn(pinned);
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
    const sent = ops.posts.at(-1)!;
    assert.match(sent.nkey, /^U[A-Z2-7]{55}$/, "the join sends a public user nkey");
    assert.equal(first.credentials?.nkey, sent.nkey);
    assert.equal(first.pipeline, "edge-houseprice");
    assert.equal((await stat(credentialsPath(data))).mode & 0o777, 0o600);
    assert.equal((await stat(join(data, "edge"))).mode & 0o777, 0o700);
    // The seed: 0600 in the edge's folder, the key the join named, and never sent.
    assert.equal((await stat(seedPath(data))).mode & 0o777, 0o600);
    const seed = (await readFile(seedPath(data), "utf8")).trim();
    assert.equal(fromSeed(new TextEncoder().encode(seed)).getPublicKey(), sent.nkey);
    assert.equal(first.seed, seed);
    assert.equal(JSON.stringify(ops.posts).includes(seed), false, "the seed never reaches the hub");
    const stored = JSON.parse(await readFile(credentialsPath(data), "utf8")) as Record<string, unknown>;
    assert.equal(stored.password, undefined);
    assert.equal(JSON.stringify(stored).includes(seed), false, "the credentials file holds no seed");
    assert.equal(JSON.stringify(stored).includes("t1"), false, "the token itself is not stored");
    const again = await prepareEdge(encodeEdgeBundle(bundleFor(ops.host, "t1")), data, quiet);
    assert.deepEqual(again.credentials, first.credentials);
    assert.equal(ops.posts.length, 1, "a restart reads the file instead of joining");
    const opts = edgeServerOptions(again);
    assert.equal(opts.jetstreamDomain, "shop-1");
    assert.deepEqual(opts.leafRemotes, [{
      url: "nats-leaf://127.0.0.1:7422", nkeySeed: seed, tls: { caFile: hubCaPath(data) }, denyImports: [...LeafDenied], denyExports: [...LeafDenied],
    }]);
    assert.equal(await readFile(hubCaPath(data), "utf8"), pinned.ca.cert, "the hub's CA, found by its pin, is kept for the leaf link");
    assert.equal((await stat(hubCaPath(data))).mode & 0o777, 0o600);
  });

  it("a refused token is fatal and says a new bundle is needed; a new bundle for the same edge joins again", async () => {
    const data = join(dir, "site");
    await assert.rejects(prepareEdge(encodeEdgeBundle(bundleFor(ops.host, "stale")), data, quiet),
      (e: unknown) => e instanceof FerryError && e.code === "unauthorized" && /new EDGE_BUNDLE/.test(e.message));
    const before = (await readFile(seedPath(data), "utf8")).trim();
    ops.tokens.add("t2");
    const rejoined = await prepareEdge(encodeEdgeBundle(bundleFor(ops.host, "t2")), data, quiet);
    assert.ok(rejoined.credentials);
    assert.equal(ops.posts.at(-1)?.join_token, "t2");
    assert.notEqual(rejoined.credentials.nkey, ops.posts.at(-3)?.nkey, "a new join makes a new key pair");
    assert.notEqual((await readFile(seedPath(data), "utf8")).trim(), before);
  });

  it("credentials from before nkey identities (a leaf password) or without their seed are refused: a new bundle is needed", async () => {
    const data = join(dir, "legacy");
    const b = bundleFor(ops.host, "t-old");
    ops.tokens.add("t-new");
    await prepareEdge(encodeEdgeBundle(bundleFor(ops.host, "t-new")), data, quiet).catch(() => undefined);
    const legacy = { edge_name: "shop-1", user: "shop-1", password: "s3cret", leaf_url: "nats-leaf://127.0.0.1:7422", hub_domain: "hub", pipeline: "edge-houseprice", ops_url: "https://127.0.0.1:1", joined_at: 1 };
    await writeFile(credentialsPath(data), JSON.stringify(legacy), { mode: 0o600 });
    await assert.rejects(prepareEdge(encodeEdgeBundle(b), data, quiet),
      (e: unknown) => e instanceof FerryError && e.code === "unauthorized" && /before edge nkey identities/.test(e.message) && /new EDGE_BUNDLE/.test(e.message));
    await writeFile(credentialsPath(data), JSON.stringify({ ...legacy, user: undefined, password: undefined, nkey: newIdentity().nkey }), { mode: 0o600 });
    await assert.rejects(prepareEdge(encodeEdgeBundle(b), data, quiet),
      (e: unknown) => e instanceof FerryError && e.code === "unauthorized" && /not the seed/.test(e.message));
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
    const late = await startJoinStandIn(pinned, port);
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

  it("a hub that does not prove the pinned CA is refused with untrusted_hub, and is told nothing", async () => {
    const data = join(dir, "pinned");
    const other = await makeCa("someone else's CA");
    // The pin names a CA this hub does not present.
    const wrongPin = bundleFor(ops.host, "t9", caFingerprint(other.cert));
    await assert.rejects(prepareEdge(encodeEdgeBundle(wrongPin), data, quiet),
      (e: unknown) => e instanceof FerryError && e.code === "untrusted_hub" && /OPSCENTER_CA_SHA256/.test(e.message) && /not joining/.test(e.message));
    // A hub that presents the pinned CA's certificate, but with a server certificate another CA signed: the
    // CA is not the issuer of what it serves (refused at the pin, or else at the join's full check).
    const impostor = await startJoinStandIn({ ca: pinned.ca, server: await makeServerCert(other, ["127.0.0.1"]) });
    try {
      impostor.tokens.add("t9");
      await assert.rejects(prepareEdge(encodeEdgeBundle(bundleFor(impostor.host, "t9")), data, quiet),
        (e: unknown) => e instanceof FerryError && e.code === "untrusted_hub" && /not joining/.test(e.message));
      assert.equal(impostor.posts.length, 0, "the join token never reached the impostor");
    } finally {
      impostor.server.close();
    }
    await assert.rejects(stat(credentialsPath(data)), "no credentials were stored");
  });
});
