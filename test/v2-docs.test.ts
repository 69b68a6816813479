import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { start as startGateway, type Gateway } from "@ferry/gateway";
import { isCi } from "./helpers/browser.js";
import { manifests, root } from "./helpers/paths.js";
import { quiet, startTestSite, type TestSite } from "./helpers/site.js";

const run = promisify(execFile);
const PYTHON = "/usr/bin/python3";

/** The code blocks of docs/v2-api.md in `lang`. */
function blocks(lang: string): string[] {
  const text = readFileSync(join(root, "docs", "v2-api.md"), "utf8");
  return [...text.matchAll(new RegExp("```" + lang + "\\n([\\s\\S]*?)```", "g"))].map((m) => m[1]!);
}

const pythonGrpc = (): boolean => spawnSync(PYTHON, ["-c", "import grpc, grpc_tools"]).status === 0;

describe("docs/v2-api.md's examples run as printed (against the demo pipelines)", () => {
  let site: TestSite;
  let gateway: Gateway;
  let dir: string;
  /** An example with the docs' addresses pointed at this test's gateway, and /tmp at its own folder. */
  let local: (code: string) => string;
  before(async () => {
    site = await startTestSite({ manifests: [manifests.houseprice, manifests.cv] });
    gateway = await startGateway({ natsUrl: site.nats.url, port: 0, host: "127.0.0.1", grpcPort: 0, logger: quiet });
    dir = await mkdtemp(join(tmpdir(), "ferry-v2-docs-"));
    local = (code) => code.replaceAll("localhost:8080", `127.0.0.1:${gateway.port}`).replaceAll("localhost:8081", `127.0.0.1:${gateway.grpcPort}`).replaceAll("/tmp/", `${dir}/`);
  });
  after(async () => {
    await gateway.stop();
    await site.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const sh = blocks("sh");
  it("has the JSON, binary and protoc shell examples, the Python and the Node one", () => {
    assert.equal(sh.length, 3);
    assert.equal(blocks("python").length, 1);
    assert.equal(blocks("js").length, 1);
  });

  it("the JSON curl answers the documented price, with id and parameters", async () => {
    const { stdout } = await run("bash", ["-c", local(sh[0]!)], { cwd: root });
    const body = JSON.parse(stdout) as { id: string; outputs: { name: string; data: number[] }[]; parameters: Record<string, string> };
    assert.equal(body.id, "r1");
    assert.deepEqual(body.outputs.map((o) => [o.name, o.data]), [["variable", [738404.6875]]]);
    assert.equal(body.parameters.check_failures, "[[]]");
  });

  it("the binary curl gets raw outputs after a JSON header of the announced length", async () => {
    const { stdout } = await run("bash", ["-c", local(sh[1]!)], { cwd: root });
    const length = Number(/inference-header-content-length: (\d+)/i.exec(stdout)?.[1]);
    const out = await readFile(join(dir, "image.out"));
    const header = JSON.parse(out.subarray(0, length).toString()) as { outputs: { name: string; parameters: { binary_data_size: number } }[] };
    assert.deepEqual(header.outputs.map((o) => o.name), ["classification", "probabilities"]);
    assert.equal(out.byteLength, length + header.outputs.reduce((n, o) => n + o.parameters.binary_data_size, 0));
  });

  it("the Python client (stubs compiled from the .proto) gets ready and the price", async (t) => {
    if (!pythonGrpc()) {
      if (isCi()) assert.fail(`${PYTHON} lacks grpc or grpc_tools (apt-get install python3-grpcio python3-grpc-tools)`);
      t.skip(`${PYTHON} lacks grpc or grpc_tools (apt-get install python3-grpcio python3-grpc-tools)`);
      return;
    }
    const protoc = sh[2]!.replace("python3", PYTHON).replace("-I gateway/proto", `-I ${join(root, "gateway", "proto")}`);
    await run("bash", ["-c", protoc], { cwd: dir });
    await writeFile(join(dir, "example.py"), local(blocks("python")[0]!));
    const { stdout } = await run(PYTHON, ["example.py"], { cwd: dir });
    assert.deepEqual(stdout.trim().split("\n"), ["True", "variable [738404.6875]"]);
  });

  it("the Node client reads the image model's inputs", async () => {
    // Beside the compiled tests, so that the repository's node_modules resolve its imports.
    const file = join(root, "test", "dist", "v2-docs-example.mjs");
    await writeFile(file, local(blocks("js")[0]!).replace('"gateway/proto/grpc_service.proto"', JSON.stringify(join(root, "gateway", "proto", "grpc_service.proto"))));
    const { stdout } = await run(process.execPath, [file], { timeout: 30_000 });
    assert.match(stdout, /name: 'tensor'/);
    assert.match(stdout, /datatype: 'FP32'/);
    assert.match(stdout, /shape: \[ -1, 3, 224, 224 \]/);
  });
});
