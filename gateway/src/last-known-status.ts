import type { ModelStatus, PipelineStatus } from "@ferry/contracts";

const AWAY = "the site's NATS server is not reachable; this is the last known state";

/**
 * The last `/pipelines` and `/models` answers, given again (as `Error`, with the reason) while the
 * gateway cannot reach NATS: at once, instead of waiting out the status and KV timeouts for an empty list.
 */
export class LastKnownStatus {
  #pipelines: PipelineStatus[] = [];
  #models: ModelStatus[] = [];

  pipelines(current: PipelineStatus[]): PipelineStatus[] {
    this.#pipelines = current;
    return current;
  }

  models(current: ModelStatus[]): ModelStatus[] {
    this.#models = current;
    return current;
  }

  /** The last pipelines (and the expected ones never seen), each `Error`. */
  pipelinesAway(expected: readonly string[]): PipelineStatus[] {
    const known = this.#pipelines.map((p) => ({ ...p, status: "Error" as const, detail: `${AWAY} (${p.status}${p.detail ? `: ${p.detail}` : ""})` }));
    const unseen = expected.filter((id) => !known.some((p) => p.id === id)).map((id) => ({ id, status: "Error" as const, detail: AWAY }));
    return [...known, ...unseen];
  }

  modelsAway(): ModelStatus[] {
    return this.#models.map((m) => ({ ...m, status: "Error" as const, detail: `${AWAY} (${m.status}${m.detail ? `: ${m.detail}` : ""})` }));
  }
}
