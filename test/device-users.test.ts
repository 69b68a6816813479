import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { ResultStream, resultSubject } from "@ferry/contracts";
import { parseStart, startSite, type Site } from "@ferry/cli";
import { connectNats } from "ferry/client";
import { houseRef, manifests, root } from "./helpers/paths.js";
import { quiet, until } from "./helpers/site.js";

const run = promisify(execFile);
const cli = join(root, "cli", "dist", "main.js");
const P = "edge-houseprice";
const input = houseRef.rows.slice(0, 1).map((tensor) => ({ tensor }));

async function ferry(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [cli, ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Asserts that the server refuses `op` for lack of permission (not a timeout or another error). */
async function refused(what: string, op: () => Promise<unknown>): Promise<void> {
  await assert.rejects(op, (err: Error) => {
    assert.match(`${err.name} ${err.message}`, /Permissions Violation/, `${what}: ${err.name} ${err.message}`);
    return true;
  }, what);
}

describe("device users: each device reads only its own durable results", () => {
  let dir: string;
  let site: Site;
  const pass: Record<string, string> = {};
  const conns: NatsConnection[] = [];
  const as = async (user: string, password = pass[user]!): Promise<NatsConnection> => {
    const nc = await connect({ servers: site.natsUrl, user, pass: password });
    conns.push(nc);
    return nc;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ferry-devices-"));
    // Added before the site runs: read at its start.
    const added = await ferry("device", "add", "cam-1", "--data", dir);
    assert.equal(added.code, 0, added.stderr);
    pass["cam-1"] = added.stdout.trim();
    site = await startSite(parseStart(["start", "--port", "0", "--nats-port", "0", "--host", "127.0.0.1", "--data", dir, "--log-level", "silent",
      "--pipeline", manifests.houseprice, "--workers", "1"], {})!.options, quiet);
    pass.device = site.passwords!.device;
    pass.admin = site.passwords!.admin;
  });
  after(async () => {
    for (const nc of conns) await nc.close().catch(() => undefined);
    await site?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("ferry device add prints the password once and keeps only its bcrypt hash, 0600; refuses bad and taken names", async () => {
    const file = join(dir, "nats", "devices.json");
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const text = await readFile(file, "utf8");
    assert.ok(!text.includes(pass["cam-1"]!), "the password is not stored");
    assert.match((JSON.parse(text) as Record<string, { hash: string }>)["cam-1"]!.hash, /^\$2[aby]\$/);
    for (const bad of ["device", "admin", "a.b", "a*", ""]) {
      const r = await ferry("device", "add", bad, "--data", dir);
      assert.equal(r.code, 1, `${bad}: ${r.stderr}`);
      assert.equal(r.stdout, "");
    }
    const again = await ferry("device", "add", "cam-1", "--data", dir);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /exists/);
    assert.equal((await ferry("device", "remove", "nope", "--data", dir)).code, 1);
  });

  it("a device added while the site runs may log in without a restart; list shows names, never secrets", async () => {
    const added = await ferry("device", "add", "cam-2", "--data", dir);
    assert.equal(added.code, 0, added.stderr);
    pass["cam-2"] = added.stdout.trim();
    await until("the site takes cam-2's user", async () => connect({ servers: site.natsUrl, user: "cam-2", pass: pass["cam-2"]!, timeout: 2000 })
      .then(async (nc) => { await nc.close(); return true; }, () => false), 15_000);
    const list = await ferry("device", "list", "--data", dir);
    assert.deepEqual(list.stdout.trim().split("\n").map((l) => l.split("\t")[0]), ["cam-1", "cam-2"]);
    assert.ok(!list.stdout.includes("$2"));
    await assert.rejects(connect({ servers: site.natsUrl, user: "cam-2", pass: "guess" }), /Authorization Violation/);
  });

  it("the client library's durable API works for a named device", async () => {
    const client = await connectNats({ servers: site.natsUrl, user: "cam-1", pass: pass["cam-1"]! });
    try {
      const { id } = await client.submit(P, input, { id: "cam1-a" });
      const result = await client.result(P, id, { timeoutMs: 20_000 });
      assert.equal(result.status, 200);
      assert.equal(result.id, "cam1-a");
      for await (const r of client.results(P)) {
        assert.equal(r.id, id);
        break;
      }
      for await (const r of client.results(P, { durable: "cam1-reader" })) {
        assert.equal(r.id, id);
        break;
      }
      // Waiting for a result not stored yet (an ordered consumer with the device's own filter).
      const waiting = client.result(P, "cam1-b", { timeoutMs: 20_000 });
      await client.submit(P, input, { id: "cam1-b" });
      assert.equal((await waiting).status, 200);
    } finally {
      await client.close();
    }
    const stored = await (await jetstreamManager(await as("admin"))).direct.getMessage(ResultStream, { last_by_subj: resultSubject(P, "cam1-a", "cam-1") });
    assert.ok(stored, "the result is under ferry.result.<pipeline>.cam-1.<id>");
  });

  it("another device (and the shared device user) cannot read it, by direct get or by consumer", async () => {
    for (const user of ["cam-2", "device"]) {
      const nc = await as(user);
      const jsm = await jetstreamManager(nc, { checkAPI: false });
      const theirs = resultSubject(P, "cam1-a", "cam-1");
      await refused(`${user}: direct get by subject`, () => jsm.direct.getMessage(ResultStream, { last_by_subj: theirs }));
      await refused(`${user}: direct get, JSON form`, () => nc.request(`$JS.API.DIRECT.GET.${ResultStream}`, JSON.stringify({ last_by_subj: theirs }), { timeout: 5000 }));
      await refused(`${user}: direct get, wildcard`, () => nc.request(`$JS.API.DIRECT.GET.${ResultStream}.ferry.result.*.*.>`, "", { timeout: 5000 }));
      await refused(`${user}: message get by sequence`, () => jsm.streams.getMessage(ResultStream, { seq: 1 }));
      await refused(`${user}: consumer on its results`, () => jsm.consumers.add(ResultStream, { ack_policy: AckPolicy.None, filter_subject: `ferry.result.${P}.cam-1.*` }));
      await refused(`${user}: unfiltered consumer`, () => nc.request(`$JS.API.CONSUMER.CREATE.${ResultStream}`, JSON.stringify({ stream_name: ResultStream, config: { ack_policy: "none" } }), { timeout: 5000 }));
      await refused(`${user}: wildcard consumer`, () => jsm.consumers.add(ResultStream, { name: "w", ack_policy: AckPolicy.None, filter_subject: "ferry.result.>" }));
      await refused(`${user}: wildcard device consumer`, () => jsm.consumers.add(ResultStream, { name: "w", ack_policy: AckPolicy.None, filter_subject: `ferry.result.${P}.*.*` }));
      // The subject says its own results; the body asks for another device's: the server holds the two together.
      const own = `$JS.API.CONSUMER.CREATE.${ResultStream}.sneaky.ferry.result.*.${user}.>`;
      const r = await nc.request(own, JSON.stringify({ stream_name: ResultStream, config: { name: "sneaky", ack_policy: "none", filter_subject: theirs } }), { timeout: 5000 });
      assert.ok((JSON.parse(new TextDecoder().decode(r.data)) as { error?: unknown }).error, `${user}: a mismatched body filter is refused`);
      const r2 = await nc.request(own, JSON.stringify({ stream_name: ResultStream, config: { name: "sneaky", ack_policy: "none", filter_subjects: [`ferry.result.*.${user}.>`, theirs] } }), { timeout: 5000 });
      assert.ok((JSON.parse(new TextDecoder().decode(r2.data)) as { error?: unknown }).error, `${user}: extra body filters are refused`);
    }
  });

  it("a device cannot submit as another device, nor answer inference requests", async () => {
    const nc = await as("cam-2");
    const js = jetstream(nc);
    await refused("submit as cam-1", () => js.publish(`ferry.submit.${P}.cam-1`, "{}"));
    await refused("submit in the shared form", () => js.publish(`ferry.submit.${P}`, "{}"));
    await refused("submit as a wildcard", () => js.publish(`ferry.submit.${P}.*`, "{}"));
    await refused("answer ferry.infer", async () => {
      const sub = nc.subscribe("ferry.infer", { queue: "ferry-inferers" });
      for await (const _m of sub) break;
    });
    const ok = await js.publish(`ferry.submit.${P}.cam-2`, JSON.stringify([{ tensor: houseRef.rows[0] }]), { msgID: "cam-2.x" });
    assert.ok(ok.seq > 0);
  });

  it("a removed device is refused on its next connect", async () => {
    const nc = await as("cam-2");
    const removed = await ferry("device", "remove", "cam-2", "--data", dir);
    assert.equal(removed.code, 0, removed.stderr);
    // A login while the server reloads its config may stall; each try has a short timeout for that.
    await until("the site drops cam-2's user", async () => connect({ servers: site.natsUrl, user: "cam-2", pass: pass["cam-2"]!, timeout: 2000 })
      .then(async (c) => { await c.close(); return false; }, (err: Error) => /Authorization Violation/.test(err.message)), 15_000);
    await until("its open connection is closed", () => Promise.resolve(nc.isClosed()), 15_000);
    const list = await ferry("device", "list", "--data", dir);
    assert.equal(list.stdout.trim(), list.stdout.trim().split("\n")[0]);
    assert.match(list.stdout, /^cam-1\t/);
  });
});
