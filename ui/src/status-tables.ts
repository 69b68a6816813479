// The pipelines and models tables.
import type { ModelStatus, PipelineStatus } from "./gateway-api.js";
import { setRows, statusClass } from "./dom.js";

/** Fills the pipelines table: name, status (with the reason of an Error as tooltip), version. */
export function showPipelines(tbody: HTMLTableSectionElement, pipelines: readonly PipelineStatus[]): void {
  const sorted = [...pipelines].sort((a, b) => a.id.localeCompare(b.id));
  setRows(tbody, "pipeline-row", sorted.map((p) => [
    { text: p.id, testid: "pipeline-name" },
    { text: p.status, testid: "pipeline-status", className: statusClass(p.status), ...(p.detail ? { title: p.detail } : {}) },
    { text: p.version ?? "–", testid: "pipeline-version", className: "mono" },
  ]), "no pipelines");
}

/** Fills the models table: name, status, version, sha256 (shortened; the whole hash as tooltip). */
export function showModels(tbody: HTMLTableSectionElement, models: readonly ModelStatus[]): void {
  const sorted = [...models].sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version));
  setRows(tbody, "model-row", sorted.map((m) => [
    { text: m.name, testid: "model-name" },
    { text: m.status, testid: "model-status", className: statusClass(m.status), ...(m.detail ? { title: m.detail } : {}) },
    { text: m.version, testid: "model-version", className: "mono" },
    { text: m.sha.slice(0, 12), testid: "model-sha", title: m.sha, className: "mono nowrap" },
  ]), "no models: no inferer is running");
}
