import { requestHeaders, type ModelStatus, type PipelineStatus } from "@ferry/contracts";
import { errorFromReply, FerryClientError } from "./errors.js";
import { encodeInput, type InferInput } from "./input.js";
import { recordsFromReply, type InferenceRecord } from "./records.js";

/** Options of {@link httpClient}. */
export interface HttpClientOptions {
  /** How long a call may take, ms. Default 30 s. */
  timeoutMs?: number;
}

/** Options of one inference. */
export interface InferOptions {
  /** The pipeline to run; absent: the site's current pipeline (`POST /infer`). */
  pipeline?: string;
  /** Sent as `Ferry-Request-Id`, so the site's logs can name the request. */
  requestId?: string;
}

/** A Ferry site reached over its HTTP API. */
export interface HttpFerryClient {
  /** Runs the input through a pipeline: one record per input row. */
  infer<V = unknown>(input: InferInput, options?: InferOptions): Promise<InferenceRecord<V>[]>;
  /** `GET /pipelines`. */
  pipelines(): Promise<PipelineStatus[]>;
  /** `GET /models`. */
  models(): Promise<ModelStatus[]>;
}

/** A client for the gateway at `baseUrl` (e.g. `http://127.0.0.1:8080`), using Node's fetch. */
export function httpClient(baseUrl: string, options: HttpClientOptions = {}): HttpFerryClient {
  const base = baseUrl.replace(/\/+$/, "");
  const timeoutMs = options.timeoutMs ?? 30_000;
  const call = (path: string, init: RequestInit = {}): Promise<{ status: number; body: Uint8Array }> =>
    send(`${base}${path}`, init, timeoutMs);
  return {
    async infer<V>(input: InferInput, o: InferOptions = {}) {
      const { body, contentType } = encodeInput(input);
      const headers = requestHeaders({ contentType, requestId: o.requestId });
      const path = o.pipeline === undefined ? "/infer" : `/pipelines/${encodeURIComponent(o.pipeline)}`;
      const reply = await call(path, { method: "POST", body, headers });
      return recordsFromReply<V>(reply.status, reply.body);
    },
    async pipelines() {
      return (jsonOf(await call("/pipelines")) as { pipelines: PipelineStatus[] }).pipelines;
    },
    async models() {
      return (jsonOf(await call("/models")) as { models: ModelStatus[] }).models;
    },
  };
}

async function send(url: string, init: RequestInit, timeoutMs: number): Promise<{ status: number; body: Uint8Array }> {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, body: new Uint8Array(await res.arrayBuffer()) };
  } catch (err) {
    if ((err as Error).name === "TimeoutError") {
      throw new FerryClientError("timeout", `no reply from ${url} within ${timeoutMs} ms`, { cause: err });
    }
    const reason = (err as Error & { cause?: Error }).cause?.message ?? (err as Error).message;
    throw new FerryClientError("unreachable", `cannot reach ${url}: ${reason}`, { cause: err });
  }
}

function jsonOf(reply: { status: number; body: Uint8Array }): unknown {
  if (reply.status >= 400) throw errorFromReply(reply.status, reply.body);
  try {
    return JSON.parse(new TextDecoder().decode(reply.body));
  } catch (err) {
    throw new FerryClientError("bad_reply", `the reply is not JSON: ${(err as Error).message}`, { cause: err });
  }
}
