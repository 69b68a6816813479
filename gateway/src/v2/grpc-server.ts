import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { FerryError, asFerryError, badTensor, decodeV2Response, encodeV2Request, type V2DecodedResponse, type V2InferRequest } from "@ferry/contracts";
import type { FastifyBaseLogger } from "fastify";
import type { Admission } from "../admission.js";
import type { InferenceCounter } from "../metrics.js";
import type { GatewayNats } from "../nats-plugin.js";
import { readiness } from "../readiness.js";
import { hasContents, inputFromGrpc, outputToGrpc, type TensorContents } from "./grpc-contents.js";
import { inferV2 } from "./infer.js";
import { modelMetadata, type V2Models } from "./models.js";
import { serverMetadata } from "./server-metadata.js";

/** The protocol's service definition, shipped beside the code. */
const protoPath = fileURLToPath(new URL("../../proto/grpc_service.proto", import.meta.url));

/** Options of {@link startGrpcServer}. */
export interface GrpcServerOptions {
  nats: GatewayNats;
  models: V2Models;
  /** The HTTP side's admission: gRPC inferences count against the same limits. */
  admission: Admission;
  /** The HTTP side's request metrics, which count gRPC inferences too. */
  counter: InferenceCounter;
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Largest request message, bytes (the HTTP side's body limit). */
  maxMessageBytes: number;
  /** TLS with this key and certificate (PEM), as the HTTP side has it. */
  tls?: { key: string; cert: string };
  logger: FastifyBaseLogger;
}

/** A listening gRPC server. */
export interface GrpcServer {
  readonly port: number;
  stop(): Promise<void>;
}

interface InferTensor { name: string; datatype: string; shape: number[]; contents?: TensorContents | null; parameters?: Record<string, Parameter> }
interface Parameter { bool_param?: boolean; int64_param?: number; string_param?: string; parameter_choice?: string }
interface InferRequestMessage {
  model_name: string; model_version: string; id: string;
  parameters: Record<string, Parameter>;
  inputs: InferTensor[];
  outputs: { name: string; parameters: Record<string, Parameter> }[];
  raw_input_contents: Buffer[];
}

/** Ferry's HTTP status → the gRPC status the protocol's clients expect. */
function grpcStatus(httpStatus: number): grpc.status {
  if (httpStatus === 404) return grpc.status.NOT_FOUND;
  if (httpStatus === 413) return grpc.status.RESOURCE_EXHAUSTED;
  if (httpStatus === 503 || httpStatus === 502) return grpc.status.UNAVAILABLE;
  if (httpStatus === 504) return grpc.status.DEADLINE_EXCEEDED;
  if (httpStatus >= 400 && httpStatus < 500) return grpc.status.INVALID_ARGUMENT;
  return grpc.status.INTERNAL;
}

/** Runs a handler, answering a thrown error with its gRPC status, message and Ferry's code (`ferry-code` trailer). */
function unary<Req, Res>(handle: (req: Req, metadata: grpc.Metadata) => Promise<Res>) {
  return (call: grpc.ServerUnaryCall<Req, Res>, callback: grpc.sendUnaryData<Res>): void => {
    handle(call.request, call.metadata).then((res) => callback(null, res), (err: unknown) => {
      const e = asFerryError(err);
      const metadata = new grpc.Metadata();
      metadata.set("ferry-code", e.code);
      callback({ code: grpcStatus(e.status), details: e.message, metadata });
    });
  };
}

const paramValue = (p: Parameter | undefined): unknown => (p ? p.bool_param ?? p.int64_param ?? p.string_param : undefined);
const metadataValue = (m: grpc.Metadata, key: string): string | undefined => {
  const v = m.get(key)[0];
  return typeof v === "string" && v !== "" ? v : undefined;
};

/**
 * The request as the REST side has it. Raw inputs get raw outputs (as Triton answers), typed contents
 * get typed contents; the request parameter `binary_data_output` chooses explicitly.
 */
function inferRequest(m: InferRequestMessage, metadata: grpc.Metadata): V2InferRequest {
  const raw = m.raw_input_contents.length > 0;
  // As the protocol says (and Triton answers): raw contents are one entry per input, and no input has typed contents then.
  if (raw && m.raw_input_contents.length !== m.inputs.length) {
    throw badTensor(`raw_input_contents has ${m.raw_input_contents.length} entries for ${m.inputs.length} inputs; it needs one per input, in order`);
  }
  const typed = raw ? m.inputs.find((t) => hasContents(t.contents)) : undefined;
  if (typed) throw badTensor(`input ${JSON.stringify(typed.name)} has contents as well as raw_input_contents; send each input one way`);
  const chosen = paramValue(m.parameters.binary_data_output);
  const splitKey = metadataValue(metadata, "ferry-split-key");
  const requestId = metadataValue(metadata, "ferry-request-id");
  return {
    ...(m.id ? { id: m.id } : {}),
    inputs: m.inputs.map((t, i) => inputFromGrpc(t, raw ? m.raw_input_contents[i] : undefined)),
    ...(m.outputs.length > 0 ? { outputs: m.outputs.map((o) => ({ name: o.name })) } : {}),
    binaryOutput: typeof chosen === "boolean" ? chosen : raw,
    ...(splitKey ? { splitKey } : {}),
    ...(requestId ? { requestId } : {}),
  };
}

/** The handlers of `inference.GRPCInferenceService`. */
function handlers(nats: GatewayNats, models: V2Models, admission: Admission, counter: InferenceCounter): grpc.UntypedServiceImplementation {
  return {
    ServerLive: unary(async () => ({ live: true })),
    ServerReady: unary(async () => ({ ready: (await readiness(nats)).status === "ready" })),
    ModelReady: unary(async (req: { name: string; version: string }) => ({ ready: (await models.getNow(req.name, req.version)).ready })),
    ServerMetadata: unary(async () => serverMetadata()),
    ModelMetadata: unary(async (req: { name: string; version: string }) => modelMetadata(await models.get(req.name, req.version))),
    ModelInfer: unary(async (m: InferRequestMessage, metadata) => {
      const started = process.hrtime.bigint();
      let code = 200;
      try {
        return await modelInfer(nats, models, admission, m, metadata);
      } catch (err) {
        code = asFerryError(err).status;
        if (code === 503 && err instanceof FerryError && err.code === "overloaded") counter.shed();
        throw err;
      } finally {
        counter.observe(m.model_name, code, Number(process.hrtime.bigint() - started) / 1e9);
      }
    }),
  };
}

/** One ModelInfer within the HTTP side's admission limits. */
async function modelInfer(nats: GatewayNats, models: V2Models, admission: Admission, m: InferRequestMessage, metadata: grpc.Metadata): Promise<Record<string, unknown>> {
  const request = inferRequest(m, metadata);
  const release = admission.take(m.raw_input_contents.reduce((n, b) => n + b.byteLength, 0));
  if (release instanceof FerryError) throw release;
  try {
    // The inferers answer every output raw: typed contents are made from the bytes here when the call wants them.
    const encoded = encodeV2Request({ ...request, binaryOutput: true, ...(request.outputs ? { outputs: request.outputs.map((o) => ({ name: o.name })) } : {}) });
    const out = await inferV2(nats, models, m.model_name, m.model_version || undefined, { ...encoded, splitKey: request.splitKey, requestId: request.requestId });
    return inferResponse(decodeV2Response(out.body, out.jsonLength), request.binaryOutput);
  } finally {
    release();
  }
}

/** `ModelInferResponse`: raw outputs when asked for (or when one is FP16, which has no typed contents), else typed contents. */
function inferResponse(result: V2DecodedResponse, binary: boolean): Record<string, unknown> {
  const raw = binary || result.outputs.some((o) => o.datatype === "FP16");
  const outputs = result.outputs.map((o) => outputToGrpc(o, raw));
  const parameters = Object.fromEntries(Object.entries(result.parameters).map(([k, v]) => [k, typeof v === "boolean" ? { bool_param: v } : typeof v === "number" ? { int64_param: v } : { string_param: v }]));
  return {
    model_name: result.model_name, model_version: result.model_version, id: result.id ?? "", parameters,
    outputs: outputs.map((o) => o.tensor), raw_output_contents: raw ? outputs.map((o) => o.raw!) : [],
  };
}

/** Serves the protocol's gRPC service on its own port, beside the HTTP gateway and over the same NATS connection. */
export async function startGrpcServer(options: GrpcServerOptions): Promise<GrpcServer> {
  const definition = protoLoader.loadSync(protoPath, { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true });
  const proto = grpc.loadPackageDefinition(definition) as unknown as { inference: { GRPCInferenceService: grpc.ServiceClientConstructor } };
  const server = new grpc.Server({ "grpc.max_receive_message_length": options.maxMessageBytes, "grpc.max_send_message_length": -1 });
  server.addService(proto.inference.GRPCInferenceService.service, handlers(options.nats, options.models, options.admission, options.counter));
  const credentials = options.tls
    ? grpc.ServerCredentials.createSsl(null, [{ private_key: Buffer.from(options.tls.key), cert_chain: Buffer.from(options.tls.cert) }], false)
    : grpc.ServerCredentials.createInsecure();
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  const port = await new Promise<number>((resolve, reject) => server.bindAsync(`${host}:${options.port}`, credentials, (err, p) => (err ? reject(err) : resolve(p))));
  options.logger.info({ port, tls: Boolean(options.tls) }, "gRPC (Open Inference Protocol) listening");
  return {
    port,
    stop: () => new Promise<void>((resolve) => {
      // In-flight calls get a moment to finish; then the rest are cancelled.
      const timer = setTimeout(() => { server.forceShutdown(); resolve(); }, 2000);
      server.tryShutdown(() => { clearTimeout(timer); resolve(); });
    }),
  };
}
