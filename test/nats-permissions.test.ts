import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { connect, headers as natsHeaders, type MsgHdrs, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { LogStream, ResultStream, type DashboardStats, type InferenceRecord } from "@ferry/contracts";
import { NatsRoles, natsUrlWithCredentials } from "@ferry/runtime";
import { start as startGateway } from "@ferry/gateway";
import { deployCommand, isLoopback, parseAs, parseStart, startSite, type Site } from "@ferry/cli";
import { connectNats } from "ferry/client";
import { houseRef, manifests } from "./helpers/paths.js";
import { PANDAS, houseRecords, post, quiet, until } from "./helpers/site.js";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Asserts that `op` is refused by the server for lack of permission (not a timeout or another error). */
async function refused(what: string, op: () => Promise<unknown>): Promise<void> {
  await assert.rejects(op, (err: Error) => {
    assert.match(`${err.name} ${err.message}`, /Permissions Violation/, `${what}: ${err.name} ${err.message}`);
    return true;
  }, what);
}

describe("NATS users per role: a site that requires credentials", () => {
  let dir: string;
  let site: Site;
  let admin: NatsConnection;
  let device: NatsConnection;
  const urlAs = (role: string): string => natsUrlWithCredentials(site.natsUrl, role, site.passwords![role as keyof typeof site.passwords]);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ferry-nats-auth-"));
    const args = ["start", "--port", "0", "--nats-port", "0", "--host", "127.0.0.1", "--data", dir, "--log-level", "silent",
      "--pipeline", manifests.houseprice, "--workers", "1"];
    site = await startSite(parseStart(args, {})!.options, quiet);
    admin = await connect({ servers: site.natsUrl, user: "admin", pass: site.passwords!.admin });
    device = await connect({ servers: site.natsUrl, user: "device", pass: site.passwords!.device });
  });
  after(async () => {
    await device?.close();
    await admin?.close();
    await site?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("refuses connections without credentials or with a wrong password; passwords are kept 0600", async () => {
    await assert.rejects(connect({ servers: site.natsUrl }), /Authorization Violation/);
    await assert.rejects(connect({ servers: site.natsUrl, user: "device", pass: "guess" }), /Authorization Violation/);
    const file = join(dir, "nats", "users.json");
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.deepEqual(Object.keys(JSON.parse(await readFile(file, "utf8")) as object).sort(), [...NatsRoles].sort());
  });

  it("every service works as its own user: inference, status, readiness, metrics, logs, deploy", async () => {
    const rows = houseRef.rows.slice(0, 3);
    const r = await post(`${site.url}/infer`, houseRecords(rows), { "Content-Type": PANDAS });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal((await fetch(`${site.url}/ready`)).status, 200);
    const metrics = await (await fetch(`${site.url}/metrics`)).text();
    assert.match(metrics, /service="inferer"/);
    assert.match(metrics, /service="logger"/);
    await until("the logger answers with the records the inferer published", async () => {
      const logs = await post(`${site.url}/logs`, "{}", { "Content-Type": "application/json" });
      return logs.status === 200 && (logs.json as unknown[]).length >= 3;
    });
    const versionOf = async (): Promise<string | undefined> =>
      ((await (await fetch(`${site.url}/pipelines`)).json()) as { pipelines: { id: string; status: string; version?: string }[] })
        .pipelines.find((p) => p.id === "edge-houseprice" && p.status === "Running")?.version;
    const before = await versionOf();
    assert.ok(before);
    // `ferry deploy` on the same machine finds the admin password in the data folder. The manifest names
    // no version (the demo's names one, already deployed), so the deploy makes a new one.
    const unversioned = join(dir, "houseprice-unversioned.json");
    const demo = JSON.parse(await readFile(manifests.houseprice, "utf8")) as { pipeline_version?: string; steps: { version?: string; file: string }[] };
    delete demo.pipeline_version;
    await writeFile(unversioned, JSON.stringify({ ...demo, steps: demo.steps.map(({ version: _v, ...s }) => ({ ...s, file: join(dirname(manifests.houseprice), s.file) })) }));
    const deployArgs = ["deploy", unversioned, "--nats-port", String(new URL(site.natsUrl).port), "--data", dir];
    assert.equal(await deployCommand("deploy", parseAs("deploy", deployArgs, {})), 0);
    await until("the inferer swaps in the new version", async () => { const v = await versionOf(); return v !== undefined && v !== before; });
  });

  it("a second gateway as the gateway user: the dashboard's /ui/stats sums both gateways' traffic", async () => {
    const second = await startGateway({ natsUrl: urlAs("gateway"), port: 0, host: "127.0.0.1", logger: quiet });
    try {
      assert.equal((await post(`${second.url}/pipelines/edge-houseprice`, houseRecords(houseRef.rows.slice(0, 1)), { "Content-Type": PANDAS })).status, 200);
      for (const url of [site.url!, second.url]) {
        const stats = (await (await fetch(`${url}/ui/stats`)).json()) as DashboardStats;
        assert.equal(stats.gateways, 2, `${url}: both gateways may ask and answer ferry.gateway.traffic`);
      }
    } finally {
      await second.stop();
    }
  });

  it("a device may infer over NATS, submit durable requests and read their results", async () => {
    const body = houseRecords(houseRef.rows.slice(0, 2));
    const http = await post(`${site.url}/pipelines/edge-houseprice`, body, { "Content-Type": PANDAS });
    const reply = await device.request("ferry.infer.edge-houseprice", enc.encode(body), { timeout: 10_000, headers: contentType() });
    const outputs = (data: Uint8Array): unknown => (JSON.parse(dec.decode(data)) as InferenceRecord[]).map((x) => x.outputs);
    const expected = (http.json as InferenceRecord[]).map((x) => x.outputs);
    assert.deepEqual(outputs(reply.data), expected);
    assert.deepEqual(outputs((await device.request("ferry.infer", enc.encode(body), { timeout: 10_000, headers: contentType() })).data), expected);

    // The client library takes the credentials in the URL.
    const client = await connectNats({ servers: urlAs("device") });
    try {
      const { id } = await client.submit("edge-houseprice", houseRef.rows.slice(0, 1).map((tensor) => ({ tensor })), { id: "perm-test-1" });
      const result = await client.result("edge-houseprice", id, { timeoutMs: 20_000 });
      assert.equal(result.status, 200);
      assert.deepEqual(result.records?.map((x) => x.outputs), (http.json as InferenceRecord[]).slice(0, 1).map((x) => x.outputs));
      for await (const r of client.results("edge-houseprice")) {
        assert.equal(r.id, id);
        break;
      }
    } finally {
      await client.close();
    }
  });

  it("services may not create, change or delete streams or buckets: only the admin provisions them", async () => {
    for (const role of ["inferer", "logger", "deployer", "gateway", "link"] as const) {
      const nc = await connect({ servers: site.natsUrl, user: role, pass: site.passwords![role] });
      try {
        const jsm = await jetstreamManager(nc);
        await refused(`${role}: create a stream`, () => jsm.streams.add({ name: "EVIL", subjects: ["evil.>"] }));
        await refused(`${role}: update FERRY_LOGS`, () => jsm.streams.update(LogStream, { max_bytes: 1024 }));
        await refused(`${role}: delete the deployments bucket`, () => jsm.streams.delete("KV_ferry-deployments"));
        await refused(`${role}: create a bucket`, () => new Kvm(nc).create("ferry-evil"));
      } finally {
        await nc.close();
      }
    }
    assert.notEqual((await (await jetstreamManager(admin)).streams.info(LogStream)).config.max_bytes, 1024);
  });

  it("a device is refused the rest: logs, deployments, stream management, service subjects", async () => {
    const logsBefore = (await (await jetstreamManager(admin)).streams.info(LogStream)).state.messages;
    const resultsConfig = (await (await jetstreamManager(admin)).streams.info(ResultStream)).config;
    const jsm = await jetstreamManager(device);
    await refused("log stream info", () => jsm.streams.info(LogStream));
    await refused("log stream delete", () => jsm.streams.delete(LogStream));
    await refused("log stream purge", () => jsm.streams.purge(LogStream));
    await refused("result stream update", () => jsm.streams.update(ResultStream, { max_age: 1 }));
    await refused("result stream purge", () => jsm.streams.purge(ResultStream));
    await refused("stream list", () => jsm.streams.names().next());
    await refused("publish a log record", () => jetstream(device).publish("ferry.log.edge-houseprice.forged", "{}"));
    await refused("logs query", () => device.request("ferry.logs.query", "{}", { timeout: 5000 }));
    await refused("deploy", () => device.request("ferry.deploy", "{}", { timeout: 5000 }));
    await refused("undeploy", () => device.request("ferry.undeploy", JSON.stringify({ pipeline: "edge-houseprice" }), { timeout: 5000 }));
    await refused("set current", () => device.request("ferry.current", JSON.stringify({ pipeline: "x" }), { timeout: 5000 }));
    await refused("status", () => device.request("ferry.status", "", { timeout: 5000 }));
    await refused("metrics", () => device.request("ferry.metrics", "", { timeout: 5000 }));
    await refused("service discovery", () => device.request("$SRV.PING", "", { timeout: 5000 }));
    await refused("deployments bucket", async () => (await new Kvm(device).open("ferry-deployments")).get("edge-houseprice"));
    await refused("site bucket put", async () => (await new Kvm(device).open("ferry-site")).put("current", "x"));
    await refused("read log records", async () => {
      const sub = device.subscribe("ferry.log.>");
      for await (const _m of sub) break;
    });
    await refused("answer inference requests", async () => {
      const sub = device.subscribe("ferry.infer.>", { queue: "ferry-inferers" });
      for await (const _m of sub) break;
    });
    await refused("submit to another stream", () => jetstream(device).publish("$JS.API.STREAM.CREATE.EVIL", "{}"));
    // The device is still connected and still served after all of that; nothing changed.
    const ok = await device.request("ferry.infer.edge-houseprice", enc.encode(houseRecords(houseRef.rows.slice(0, 1))), { timeout: 10_000, headers: contentType() });
    assert.equal(ok.headers?.get("Ferry-Status") ?? "200", "200");
    const after = await (await jetstreamManager(admin)).streams.info(LogStream);
    assert.ok(after.state.messages >= logsBefore);
    assert.deepEqual((await (await jetstreamManager(admin)).streams.info(ResultStream)).config, resultsConfig);
    assert.ok((await (await new Kvm(admin).open("ferry-site")).get("current"))?.string() === "edge-houseprice");
  });
});

describe("where the site's nats-server listens", () => {
  it("loopback by default, and credentials always (loopback too); TLS beyond loopback", () => {
    const o = parseAs("start", ["start"], {});
    assert.equal(o.natsHost, "127.0.0.1");
    for (const host of ["127.0.0.1", "127.1.2.3", "::1", "localhost"]) assert.equal(isLoopback(host), true, host);
    for (const host of ["0.0.0.0", "::", "192.168.1.10", "10.0.0.5"]) assert.equal(isLoopback(host), false, host);
    assert.throws(() => parseStart(["start", "--nats-auth", "off"], {}), /--nats-auth/, "credentials cannot be turned off");
  });

  it("a default site refuses an anonymous NATS connection on loopback", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ferry-nats-default-"));
    const site = await startSite(parseStart(["start", "logger", "--nats-port", "0", "--data", dir, "--log-level", "silent"], {})!.options, quiet);
    try {
      assert.ok(site.passwords, "role passwords");
      await assert.rejects(connect({ servers: site.natsUrl, reconnect: false }), /Authorization Violation|AUTHORIZATION_VIOLATION|authorization/i);
      const device = await connect({ servers: site.natsUrl, user: "device", pass: site.passwords.device });
      await device.close();
    } finally {
      await site.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a server exposed on 0.0.0.0 speaks TLS, refuses anonymous clients and serves the roles", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ferry-nats-exposed-"));
    const args = ["start", "logger", "--nats-port", "0", "--nats-host", "0.0.0.0", "--data", dir, "--log-level", "silent"];
    const site = await startSite(parseStart(args, {})!.options, quiet);
    try {
      assert.ok(site.passwords, "credentials are required");
      const tls = { caFile: site.ca!.file };
      await assert.rejects(connect({ servers: site.natsUrl, tls }), /Authorization Violation/);
      const nc = await connect({ servers: site.natsUrl, user: "admin", pass: site.passwords.admin, tls });
      const info = await (await jetstreamManager(nc)).streams.info(LogStream);
      assert.equal(info.config.name, LogStream);
      await nc.close();
    } finally {
      await site.stop();
      delete process.env.FERRY_NATS_CA;
      await rm(dir, { recursive: true, force: true });
    }
  });
});

function contentType(): MsgHdrs {
  const h = natsHeaders();
  h.set("Content-Type", PANDAS);
  return h;
}
