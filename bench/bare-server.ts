// Baseline (b): what a user would write without Ferry. One Fastify route parses the pandas-records
// JSON, runs onnxruntime in-process on a Float32Array [rows, width] and answers a pandas-records-like
// JSON reply. Usage: node bench/dist/bare-server.js <model.onnx>; prints {"url": ...} once listening.
import Fastify from "fastify";
import ort from "onnxruntime-node";

interface Row {
  tensor: number[];
}

class BadRequest extends Error {
  readonly statusCode = 400;
}

/** Checks the body is `[{"tensor": [width numbers]}, ...]` and packs it row-major. */
function toFloat32(body: unknown, width: number): { rows: Row[]; data: Float32Array } {
  if (!Array.isArray(body) || body.length === 0) throw new BadRequest("expected a non-empty JSON array of rows");
  const rows = body as Row[];
  const data = new Float32Array(rows.length * width);
  rows.forEach((row, i) => {
    const t = (row as Partial<Row> | null)?.tensor;
    if (!Array.isArray(t) || t.length !== width) throw new BadRequest(`row ${i}: "tensor" must hold ${width} numbers`);
    data.set(t, i * width);
  });
  return { rows, data };
}

async function main(): Promise<void> {
  const modelPath = process.argv[2];
  if (!modelPath) throw new Error("usage: bare-server <model.onnx>");
  // Same session settings as Ferry's inferer, so the comparison is about the serving path only.
  const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: "all" });
  const input = session.inputNames[0];
  const meta = session.inputMetadata[0];
  const width = meta?.isTensor && typeof meta.shape[1] === "number" ? meta.shape[1] : 18;
  const app = Fastify({ logger: false });

  // Fastify's JSON parser matches on the media type, so "; format=pandas-records" is accepted.
  app.post("/infer", async (req) => {
    const t0 = process.hrtime.bigint();
    const { rows, data } = toFloat32(req.body, width);
    const t1 = process.hrtime.bigint();
    const out = await session.run({ [input]: new ort.Tensor("float32", data, [rows.length, width]) });
    const t2 = process.hrtime.bigint();
    const result = out[session.outputNames[0]];
    const values = result.data as Float32Array;
    const per = values.length / rows.length;
    return rows.map((row, i) => ({
      check_failures: [],
      elapsed: [Number(t1 - t0), Number(t2 - t1)],
      model_name: "house-price-estimator",
      original_data: row,
      outputs: [{ Float: { data: Array.from(values.subarray(i * per, (i + 1) * per)), dim: [1, ...result.dims.slice(1)], v: 1 } }],
      pipeline_name: "bare",
      shadow_data: {},
      time: Date.now(),
    }));
  });

  await app.listen({ host: "127.0.0.1", port: 0 });
  const addr = app.server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}` })}\n`);
  const stop = (): void => {
    void app.close().then(() => session.release()).finally(() => process.exit(0));
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`bare-server: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
