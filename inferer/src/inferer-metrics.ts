import type { NatsConnection } from "@nats-io/transport-node";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { registerNatsMetrics, serviceRegistry, setCounter } from "@ferry/runtime";
import type { InferEndpoints } from "./infer-endpoints.js";
import type { LogPublisher } from "./log-publisher.js";
import type { DurableRequests } from "./durable-requests.js";

/** Where the scrape-time metrics read their counts (kept by the inferer anyway, so the hot path pays nothing more). */
export interface InfererCounts {
  /** Pipeline runs. */
  runs(): number;
  endpoints: InferEndpoints;
  publisher: LogPublisher;
  durable?: DurableRequests;
}

const STEP_BUCKETS = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const ROW_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096];
const REQUEST_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256];

interface RunObservers {
  rows: Histogram.Internal<"pipeline">;
  requests: Histogram.Internal<"pipeline">;
}

/**
 * An inferer's metrics (`service="inferer"`, `instance=<inferer id>`). What runs per request (step
 * times, batch sizes) goes through labelled children resolved once per pipeline or model; the rest is
 * read from the inferer's own counters when scraped.
 */
export class InfererMetrics {
  readonly registry: Registry;
  readonly #steps: Histogram<"pipeline" | "model">;
  readonly #rows: Histogram<"pipeline">;
  readonly #requests: Histogram<"pipeline">;
  readonly #swaps: Counter<"pipeline">;
  readonly #failures: Counter<"pipeline">;
  readonly #runs = new Map<string, RunObservers>();

  constructor(nc: NatsConnection, instance: string) {
    this.registry = serviceRegistry({ service: "inferer", instance });
    const registers = [this.registry];
    this.#steps = new Histogram({
      name: "ferry_inferer_step_duration_seconds",
      help: "Time of one session run of a pipeline step (the model that ran: a split's arm), by pipeline and model.",
      labelNames: ["pipeline", "model"], buckets: STEP_BUCKETS, registers,
    });
    this.#rows = new Histogram({ name: "ferry_inferer_batch_rows", help: "Rows per pipeline run (requests merged into one run add up).", labelNames: ["pipeline"], buckets: ROW_BUCKETS, registers });
    this.#requests = new Histogram({ name: "ferry_inferer_batch_requests", help: "Inference requests per pipeline run.", labelNames: ["pipeline"], buckets: REQUEST_BUCKETS, registers });
    this.#swaps = new Counter({ name: "ferry_inferer_deployment_swaps_total", help: "Pipeline versions swapped in while another version of the pipeline was serving.", labelNames: ["pipeline"], registers });
    this.#failures = new Counter({ name: "ferry_inferer_deployment_failures_total", help: "Pipeline versions that failed to load (the serving version, if any, stays).", labelNames: ["pipeline"], registers });
    registerNatsMetrics(this.registry, nc);
  }

  /** An observer of one model's step time in seconds (for PipelineRuntime's `stepTimer`). */
  stepTimer(pipeline: string, model: string): (seconds: number) => void {
    const child = this.#steps.labels({ pipeline, model });
    return (seconds) => child.observe(seconds);
  }

  /** Observes one pipeline run of `requests` requests and `rows` rows. */
  observeRun(pipeline: string, requests: number, rows: number): void {
    let o = this.#runs.get(pipeline);
    if (!o) this.#runs.set(pipeline, (o = { rows: this.#rows.labels({ pipeline }), requests: this.#requests.labels({ pipeline }) }));
    o.rows.observe(rows);
    o.requests.observe(requests);
  }

  /** Counts a version swapped in (`replaced`: another version was serving) or one that failed to load. */
  deployment(pipeline: string, outcome: "loaded" | "replaced" | "failed"): void {
    if (outcome === "replaced") this.#swaps.inc({ pipeline });
    else if (outcome === "failed") this.#failures.inc({ pipeline });
  }

  /** Adds the metrics read from the inferer's counters at scrape time. */
  track(counts: InfererCounts): void {
    const registers = [this.registry];
    const perEndpoint = (name: string, help: string, pick: (e: { parts: number; requests: number; failedParts: number }) => number): void => {
      new Counter({
        name, help, labelNames: ["pipeline"], registers,
        collect() {
          this.reset();
          for (const e of counts.endpoints.all()) this.inc({ pipeline: e.name }, pick(e));
        },
      });
    };
    perEndpoint("ferry_inferer_messages_total", "NATS inference messages answered (a batch envelope counts once), by endpoint: pipeline=\"current\" is ferry.infer.", (e) => e.requests);
    perEndpoint("ferry_inferer_requests_total", "Synchronous inference requests answered (each part of an envelope counts), by endpoint as in ferry_inferer_messages_total; durable ones are in ferry_inferer_durable_results_total.", (e) => e.parts);
    perEndpoint("ferry_inferer_request_errors_total", "Inference requests answered with an error status, by endpoint.", (e) => e.failedParts);
    scrapeCounter(registers, "ferry_inferer_runs_total", "Pipeline runs (one session run per step each), sync and durable.", counts.runs);
    this.#trackLogs(registers, counts.publisher);
    if (counts.durable) this.#trackDurable(registers, counts.durable);
  }

  #trackLogs(registers: Registry[], publisher: LogPublisher): void {
    new Gauge({
      name: "ferry_inferer_log_backlog_records", help: "Log records waiting to be stored (queued or awaiting JetStream's ack).", registers,
      collect() { this.set(publisher.stats().buffered); },
    });
    scrapeCounter(registers, "ferry_inferer_log_overflow_total", "Log records not logged because the backlog was full.", () => publisher.stats().overflow);
    scrapeCounter(registers, "ferry_inferer_log_published_total", "Log records JetStream acknowledged.", () => publisher.stats().published);
    scrapeCounter(registers, "ferry_inferer_log_retries_total", "Log publishes that failed and were retried.", () => publisher.stats().retries);
  }

  #trackDurable(registers: Registry[], durable: DurableRequests): void {
    scrapeCounter(registers, "ferry_inferer_durable_results_total", "Durable results written (errors included).", () => durable.stats().results);
    scrapeCounter(registers, "ferry_inferer_durable_errors_total", "Durable results that are errors.", () => durable.stats().errors);
    scrapeCounter(registers, "ferry_inferer_durable_duplicates_total", "Durable requests skipped because their id had a result already.", () => durable.stats().duplicates);
    scrapeCounter(registers, "ferry_inferer_durable_retries_total", "Durable deliveries handed back for a later try.", () => durable.stats().retried);
  }
}

/** A counter whose count is read from `value` at scrape time. */
function scrapeCounter(registers: Registry[], name: string, help: string, value: () => number): void {
  new Counter({ name, help, registers, collect() { setCounter(this, value()); } });
}
