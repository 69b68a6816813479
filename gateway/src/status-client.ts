import { Empty, type NatsConnection } from "@nats-io/transport-node";
import { Subjects, type InfererStatus, type ModelStatus, type PipelineStatus } from "@ferry/contracts";

/** Asks every inferer for its status; answers within about `maxWaitMs` even when none replies. */
export async function collectStatus(nc: NatsConnection, maxWaitMs = 1000): Promise<InfererStatus[]> {
  const out: InfererStatus[] = [];
  try {
    const replies = await nc.requestMany(Subjects.status, Empty, { strategy: "stall", stall: 75, maxWait: maxWaitMs });
    for await (const msg of replies) {
      try {
        out.push(msg.json<InfererStatus>());
      } catch {
        // a reply we cannot read is not a status
      }
    }
  } catch {
    // no responders: no inferer is up
  }
  return out;
}

/**
 * The pipelines of all inferers, one entry per pipeline: Running when any inferer runs it. Pipelines
 * the site expects but no inferer reports are listed as Error.
 */
export function pipelinesOf(statuses: readonly InfererStatus[], expected: readonly string[]): PipelineStatus[] {
  const byId = new Map<string, PipelineStatus>();
  for (const s of statuses) {
    for (const p of s.pipelines) {
      const seen = byId.get(p.id);
      if (!seen || (seen.status === "Error" && p.status === "Running")) {
        byId.set(p.id, { id: p.id, status: p.status, ...(p.version ? { version: p.version } : {}), ...(p.detail ? { detail: p.detail } : {}) });
      }
    }
  }
  for (const id of expected) {
    if (!byId.has(id)) byId.set(id, { id, status: "Error", detail: "no inferer is serving this pipeline" });
  }
  return [...byId.values()];
}

/** The models of all inferers, one entry per model name and version. */
export function modelsOf(statuses: readonly InfererStatus[]): ModelStatus[] {
  const byKey = new Map<string, ModelStatus>();
  for (const s of statuses) {
    for (const p of s.pipelines) {
      for (const m of p.models) {
        const key = `${m.name}\u0000${m.version}`;
        if (!byKey.has(key) || m.status === "Running") byKey.set(key, { name: m.name, sha: m.sha, status: m.status, version: m.version, ...(m.detail ? { detail: m.detail } : {}) });
      }
    }
  }
  return [...byKey.values()];
}
