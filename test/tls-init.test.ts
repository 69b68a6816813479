import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseAs } from "@ferry/cli";
import { caFingerprint } from "@ferry/natsd";
import { root } from "./helpers/paths.js";

const cli = join(root, "cli", "dist", "main.js");

/** `ferry tls init ARGS` in a process of its own: exit code, stdout, stderr. */
function tlsInit(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [cli, "tls", "init", ...args], { encoding: "utf8", env: { ...process.env, FERRY_TLS_DIR: "", FERRY_TLS_HOSTS: "", FERRY_TLS_CA_DIR: "" } });
}

/** The SANs of a certificate, as OpenSSL writes them (`DNS:nats-1, IP Address:127.0.0.1`). */
async function namesOf(file: string): Promise<string[]> {
  return (new X509Certificate(await readFile(file, "utf8")).subjectAltName ?? "").split(", ");
}

describe("ferry tls init: a CA and a server certificate for a cluster (compose.yaml's certs service)", () => {
  let dir: string;
  let out: string;
  let caDir: string;
  const hosts = "nats-1,nats-2,nats-3,localhost,127.0.0.1";

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ferry-tls-init-"));
    out = join(dir, "out");
    caDir = join(dir, "ca");
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("writes ca.pem, server.pem and server-key.pem (0600) to --out, keeps the CA's key in --ca-dir only, prints the CA's SHA-256", async () => {
    const r = tlsInit("--out", out, "--ca-dir", caDir, "--hosts", hosts);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual((await readdir(out)).sort(), ["ca.pem", "server-key.pem", "server.pem"]);
    assert.deepEqual((await readdir(caDir)).sort(), ["ca-key.pem", "ca.pem", "server-key.pem", "server.pem"]);
    for (const f of [...["ca.pem", "server.pem", "server-key.pem"].map((f) => join(out, f)), join(caDir, "ca-key.pem")]) {
      assert.equal((await stat(f)).mode & 0o777, 0o600, f);
    }
    const ca = await readFile(join(out, "ca.pem"), "utf8");
    assert.equal(r.stdout, `${caFingerprint(ca)}\n`, "the fingerprint alone on stdout");
    assert.equal(r.stdout.trim(), new X509Certificate(ca).fingerprint256.replace(/:/g, "").toLowerCase());
    assert.doesNotMatch(r.stdout + r.stderr, /PRIVATE KEY/);
    assert.deepEqual(await namesOf(join(out, "server.pem")), ["DNS:nats-1", "DNS:nats-2", "DNS:nats-3", "DNS:localhost", "IP Address:127.0.0.1"]);
    const server = new X509Certificate(await readFile(join(out, "server.pem"), "utf8"));
    assert.ok(server.checkIssued(new X509Certificate(ca)) && server.verify(new X509Certificate(ca).publicKey), "signed by ca.pem");
  });

  it("a second run with the same hosts changes nothing; other hosts get a new server certificate from the same CA", async () => {
    const read = (f: string): Promise<string> => readFile(join(out, f), "utf8");
    const first = { ca: await read("ca.pem"), cert: await read("server.pem"), key: await read("server-key.pem") };
    const again = tlsInit("--out", out, "--ca-dir", caDir, "--hosts", hosts);
    assert.equal(again.status, 0, again.stderr);
    assert.deepEqual({ ca: await read("ca.pem"), cert: await read("server.pem"), key: await read("server-key.pem") }, first);
    assert.match(again.stderr, /kept the CA .*kept the server certificate/);
    // Fewer hosts too: a name dropped from --hosts leaves the certificate.
    const fewer = tlsInit("--out", out, "--ca-dir", caDir, "--hosts", "nats-1,localhost");
    assert.equal(fewer.status, 0, fewer.stderr);
    assert.equal(fewer.stdout, again.stdout, "the same CA");
    assert.equal(await read("ca.pem"), first.ca);
    assert.notEqual(await read("server.pem"), first.cert);
    assert.notEqual(await read("server-key.pem"), first.key);
    assert.deepEqual(await namesOf(join(out, "server.pem")), ["DNS:nats-1", "DNS:localhost"]);
    assert.match(fewer.stderr, /kept the CA .*made a server certificate/);
  });

  it("without --ca-dir everything is kept in --out; bad hosts and stray arguments are refused", async () => {
    const single = join(dir, "single");
    const r = tlsInit("--out", single, "--hosts", "localhost");
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual((await readdir(single)).sort(), ["ca-key.pem", "ca.pem", "server-key.pem", "server.pem"]);
    assert.equal((await stat(single)).mode & 0o777, 0o700);
    const bad = tlsInit("--out", single, "--hosts", "nats://nats-1:4222");
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /neither a host name nor an IP address/);
    assert.throws(() => parseAs("tls init", ["tls", "init", "nats-1"], {}), /takes no arguments/);
    assert.throws(() => parseAs("tls init", ["tls", "make"], {}), /ferry tls init/);
    const o = parseAs("tls init", ["tls", "init"], { FERRY_TLS_HOSTS: "a,b", FERRY_TLS_DIR: "/x" });
    assert.deepEqual([o.tlsHosts, o.tlsOut, o.tlsCaDir], [["a", "b"], "/x", undefined]);
  });
});
