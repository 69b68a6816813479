import { InfererQueue, Subjects } from "@ferry/contracts";
import { EndpointCounter, type DiscoverableService } from "@ferry/runtime";
import type { PartReply } from "./infer-parts.js";

/** Endpoint (and metrics label) name of `ferry.infer`, the site's current pipeline, as the gateway labels `POST /infer`. */
export const CURRENT_ENDPOINT = "current";

/** One inference subject's counters: NATS messages (ADR-32 requests) and the inference requests they carried. */
export class InferEndpoint extends EndpointCounter {
  /** Inference requests answered (each part of an envelope counts). */
  parts = 0;
  /** Of those, answered with an error status. */
  failedParts = 0;

  /** Counts one answered message and its replies; `ns` from its arrival to its reply. */
  answered(replies: readonly PartReply[], ns: number): void {
    let failed: PartReply | undefined;
    for (const r of replies) {
      if (r.status < 400) continue;
      this.failedParts++;
      failed ??= r;
    }
    this.parts += replies.length;
    this.record(ns, failed ? errorText(failed) : undefined);
  }
}

/** The error reply's message (only read when a request failed). */
function errorText(r: PartReply): string {
  try {
    const body = JSON.parse(new TextDecoder().decode(r.body)) as { error?: unknown; code?: unknown };
    return `${r.status} ${String(body.code)}: ${String(body.error)}`;
  } catch {
    return `status ${r.status}`;
  }
}

/** The inferer's endpoints, one per inference subject it has answered on (`ferry.infer`, `ferry.infer.<pipeline>`). */
export class InferEndpoints {
  readonly #bySubject = new Map<string, InferEndpoint>();

  /** The endpoint of a subject, created on its first message. */
  of(subject: string): InferEndpoint {
    let e = this.#bySubject.get(subject);
    if (!e) {
      const name = subject === Subjects.infer ? CURRENT_ENDPOINT : subject.slice(Subjects.inferPrefix.length);
      this.#bySubject.set(subject, (e = new InferEndpoint(name, subject, InfererQueue)));
    }
    return e;
  }

  /** Every endpoint counted so far. */
  all(): IterableIterator<InferEndpoint> {
    return this.#bySubject.values();
  }

  /** The inferer as an ADR-32 service (`ferry-inferer`): one endpoint per subject served now, counted since start. */
  discoverable(id: string, serving: () => readonly string[]): DiscoverableService {
    const now = (): InferEndpoint[] => serving().map((s) => this.of(s));
    return {
      name: "ferry-inferer",
      id,
      description: "Ferry inferer: runs ONNX pipelines for ferry.infer[.<pipeline>] (queue group ferry-inferers)",
      metadata: { ferry_id: id },
      endpoints: () => now().map((e) => e.info()),
      stats: () => now().map((e) => e.stats({ requests: e.parts, failed_requests: e.failedParts })),
    };
  }
}
