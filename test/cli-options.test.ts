import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import { demoManifests, parseAs, parseCommand, parseDuration, parseSize } from "@ferry/cli";
import { root } from "./helpers/paths.js";

const cli = join(root, "cli", "dist", "main.js");

describe("the option parser", () => {
  it("defaults come from the table when neither flag nor environment says", () => {
    const o = parseAs("start", ["start"], {});
    assert.equal(o.port, 8080);
    assert.equal(o.host, "0.0.0.0");
    assert.equal(o.data, join(process.cwd(), "data"));
    assert.equal(o.bodyLimit, 16 * 1024 * 1024);
    assert.equal(o.logStorageBytes, 10 * 1024 ** 3);
    assert.equal(o.logMaxAgeMs, 0);
    assert.equal(o.resultMaxAgeMs, 7 * 86_400_000);
    assert.equal(o.startWaitMs, 60_000);
    assert.equal(o.batchWindowMs, undefined);
    assert.equal(o.logRecords, true);
    assert.ok(o.workers >= 1);
    assert.deepEqual(o.manifests, demoManifests);
    assert.deepEqual(o.services, ["gateway", "inferer", "logger", "deployer"]);
    const hub = parseAs("start ops", ["start", "ops"], {});
    assert.deepEqual([hub.opsPort, hub.leafPort, hub.tokenTtlMs, hub.publicHost], [8090, 7422, 86_400_000, undefined]);
    const logs = parseAs("logs", ["logs"], {});
    assert.deepEqual([logs.url, logs.order, logs.pageSize, logs.limit], ["http://localhost:8080", "asc", 1000, undefined]);
  });

  it("a flag wins over its environment variable, which wins over the default; an empty variable counts as unset", () => {
    const env = { FERRY_PORT: "9000", FERRY_HOST: "", FERRY_PIPELINES: "a.json, b.json", LOCAL_INFERENCE_STORAGE: "512Mi", FERRY_LOG_RECORDS: "off" };
    const fromEnv = parseAs("start", ["start"], env);
    assert.equal(fromEnv.port, 9000);
    assert.equal(fromEnv.host, "0.0.0.0");
    assert.deepEqual(fromEnv.manifests, [join(process.cwd(), "a.json"), join(process.cwd(), "b.json")]);
    assert.equal(fromEnv.logStorageBytes, 512 * 1024 ** 2);
    assert.equal(fromEnv.logRecords, false);
    const fromFlags = parseAs("start", ["start", "-p", "9001", "--pipeline", "c.json", "--pipeline", "d,e.json"], env);
    assert.equal(fromFlags.port, 9001);
    assert.deepEqual(fromFlags.manifests, [join(process.cwd(), "c.json"), join(process.cwd(), "d,e.json")], "a repeated flag's values are taken whole");
    assert.equal(parseAs("start", ["start", "--max-in-flight", "0"], {}).maxInFlight, 1, "0 means 1, as before");
  });

  it("a bad value names the flag or variable it came from and what was expected", () => {
    assert.throws(() => parseCommand(["start", "--port", "http"], {}), /^Error: --port must be a port number \(0 to 65535\), got "http"$/);
    assert.throws(() => parseCommand(["start"], { FERRY_PORT: "-1" }), /^Error: FERRY_PORT must be a port number/);
    assert.throws(() => parseCommand(["start"], { LOCAL_INFERENCE_STORAGE: "lots" }), /LOCAL_INFERENCE_STORAGE must be a size such as 10Gi/);
    assert.throws(() => parseCommand(["start", "--result-max-age", "soon"], {}), /--result-max-age must be a duration such as 30d/);
    assert.throws(() => parseCommand(["start", "--log-level", "loud"], {}), /--log-level must be one of fatal, error, warn, info, debug, trace, silent, got "loud"/);
    assert.throws(() => parseCommand(["start", "--batch-window", "5000"], {}), /--batch-window must be off or 0..1000 ms/);
    assert.throws(() => parseCommand(["logs", "--order", "sideways"], {}), /--order must be one of asc, desc/);
    assert.throws(() => parseCommand(["nats-password", "admin"], { FERRY_NATS_SECRET: "short" }), /FERRY_NATS_SECRET must be at least 16 characters/);
  });

  it("a flag given to a command that does not take it is refused, naming the commands that do", () => {
    assert.throws(() => parseCommand(["deploy", "m.json", "--ops-port", "1"], {}), /--ops-port is not an option of `ferry deploy` \(only of `ferry start ops`\)/);
    assert.throws(() => parseCommand(["start", "ops", "--workers", "2"], {}), /--workers is not an option of `ferry start ops`/);
    assert.throws(() => parseCommand(["logs", "--nats-url", "nats://x"], {}), /--nats-url is not an option of `ferry logs`/);
    assert.throws(() => parseCommand(["start", "--frobnicate"], {}), /Unknown option '--frobnicate'/);
    assert.throws(() => parseCommand(["frob"], {}), /unknown command "frob"/);
    const r = spawnSync(process.execPath, [cli, "nats-password", "admin", "--port", "1"], { encoding: "utf8" });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--port is not an option of `ferry nats-password`/);
  });

  it("each command gets only its own options", () => {
    const deploy = parseAs("deploy", ["deploy", "m.json", "--set-current"], { FERRY_PORT: "1", NATS_URL: "nats://h:4222" });
    assert.deepEqual(Object.keys(deploy).sort(), ["args", "command", "data", "natsPort", "natsSecret", "natsUrl", "replicas", "setCurrent"]);
    assert.deepEqual([deploy.args, deploy.setCurrent, deploy.natsUrl], [["m.json"], true, "nats://h:4222"]);
    const server = parseAs("start nats", ["start", "nats"], { NATS_URL: "nats://h:4222" });
    assert.equal(server.natsUrl, undefined, "`ferry start nats` spawns its server whatever NATS_URL says");
    assert.deepEqual(parseCommand(["start", "--help"], {}), { command: "help", topic: "start" });
    assert.deepEqual(parseCommand([], {}), { command: "help", topic: undefined });
  });

  it("sizes and durations read as before (cli/src/units.ts)", () => {
    assert.deepEqual(["10Gi", "512Mi", "100Ki", "1G", "1048576", "1.5Ki"].map(parseSize), [10 * 1024 ** 3, 512 * 1024 ** 2, 102_400, 1e9, 1_048_576, 1536]);
    assert.deepEqual(["30d", "12h", "15m", "90s", "500ms"].map(parseDuration), [30 * 86_400_000, 12 * 3_600_000, 900_000, 90_000, 500]);
    assert.throws(() => parseSize("ten"), /not a size: "ten"/);
    assert.throws(() => parseDuration("12"), /not a duration: "12"/);
  });
});
