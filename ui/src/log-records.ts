// The latest log records table.
import type { LogRecord, PipelineStatus } from "./gateway-api.js";
import { setRows } from "./dom.js";

/** How much of a record's `in` and `out` a cell shows; the tooltip holds more. */
const SHORT = 80;
const LONG = 2000;

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function json(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return "(unreadable)";
  }
}

/**
 * The pipeline a record came from. Records name the pipeline's version, not the pipeline, so versions are
 * matched against `/pipelines`; a version no longer listed falls back to the record's model name.
 */
function pipelineOf(record: LogRecord, byVersion: ReadonlyMap<string, string>): { text: string; title?: string } {
  const name = byVersion.get(record.metadata.pipeline_version);
  if (name) return { text: name };
  let model = "?";
  try {
    model = (JSON.parse(record.metadata.last_model) as { model_name?: string }).model_name ?? "?";
  } catch {
    // keep "?"
  }
  return { text: `(model ${model})`, title: `pipeline version ${record.metadata.pipeline_version}` };
}

/** Pipeline version → pipeline name, from `/pipelines`. */
export function versionsOf(pipelines: readonly PipelineStatus[]): Map<string, string> {
  return new Map(pipelines.flatMap((p) => (p.version ? [[p.version, p.id] as const] : [])));
}

/** Fills the logs table: time, pipeline, a short view of `in` and `out`, the anomaly count. */
export function showLogs(tbody: HTMLTableSectionElement, records: readonly LogRecord[], byVersion: ReadonlyMap<string, string>): void {
  setRows(tbody, "log-row", records.map((r) => {
    const pipeline = pipelineOf(r, byVersion);
    const dropped = r.metadata.dropped.length > 0 ? ` (dropped: ${r.metadata.dropped.join(", ")})` : "";
    const input = `${json(r.in)}${dropped}`;
    const output = json(r.out);
    return [
      { text: new Date(r.time).toLocaleTimeString(undefined, { hour12: false }), testid: "log-time", title: new Date(r.time).toISOString() },
      { text: pipeline.text, testid: "log-pipeline", ...(pipeline.title ? { title: pipeline.title } : {}) },
      { text: clip(input, SHORT), testid: "log-in", title: clip(input, LONG), className: "mono" },
      { text: clip(output, SHORT), testid: "log-out", title: clip(output, LONG), className: "mono" },
      { text: String(r.anomaly.count), testid: "log-anomalies" },
    ];
  }), "no log records yet");
}
