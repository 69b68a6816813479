// What the page reads of the gateway's HTTP API (docs/http-api.md): the types come from contracts (type-only
// imports: nothing of contracts reaches the browser bundle).
import type { DashboardStats, HealthReply, LogRecord, ModelStatus, PipelineStatus } from "@ferry/contracts";

export type { DashboardStats, LogRecord, ModelStatus, PipelineStatus };
/** `GET /health`. */
export type Health = HealthReply;
/** One second of `GET /ui/stats`. */
export type TrafficSecond = DashboardStats["seconds"][number];
/** The site's link to the Ops hub, from `GET /health`. */
export type LinkStatus = HealthReply["link"];

/** A failed call: Ferry's `{error, code}` body when there is one. */
export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

/** Longer than a poll, so a stuck call cannot hold the page for long. */
const CALL_TIMEOUT_MS = 5000;

async function call<T>(path: string, init: RequestInit = {}): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, { ...init, signal: AbortSignal.timeout(CALL_TIMEOUT_MS), headers: { Accept: "application/json", ...init.headers } });
  } catch (err) {
    throw new ApiError(0, "unreachable", `the gateway did not answer (${err instanceof Error ? err.message : String(err)})`);
  }
  const body: unknown = await res.json().catch(() => undefined);
  if (!res.ok) {
    const e = body as { error?: unknown; code?: unknown } | undefined;
    throw new ApiError(res.status, typeof e?.code === "string" ? e.code : "http_error", typeof e?.error === "string" ? e.error : `HTTP ${res.status}`);
  }
  return body as T;
}

/** The site's pipelines. */
export async function getPipelines(): Promise<PipelineStatus[]> {
  return (await call<{ pipelines: PipelineStatus[] }>("/pipelines")).pipelines;
}

/** The running inferers' models. */
export async function getModels(): Promise<ModelStatus[]> {
  return (await call<{ models: ModelStatus[] }>("/models")).models;
}

/** Liveness and the Ops link state. */
export async function getHealth(): Promise<Health> {
  return call<Health>("/health");
}

/** The gateway's traffic figures (served beside the page). */
export async function getStats(): Promise<DashboardStats> {
  return call<DashboardStats>(`${import.meta.env.BASE_URL}stats`);
}

/** The newest `count` log records, newest first. */
export async function getLatestLogs(count: number): Promise<LogRecord[]> {
  return call<LogRecord[]>("/logs", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ page_size: count, order: "desc" }),
  });
}
