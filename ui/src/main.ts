// The site dashboard: polls the gateway every second and redraws each panel on its own, so one failing
// service (say, no logger) shows as an error line in its panel while the others keep updating.
import "./dashboard.css";
import { ApiError, getHealth, getLatestLogs, getModels, getPipelines, getStats } from "./gateway-api.js";
import { byTestId, setError } from "./dom.js";
import { describeLink } from "./link-state.js";
import { showLogs, versionsOf } from "./log-records.js";
import { showModels, showPipelines } from "./status-tables.js";
import { TrafficChart } from "./traffic-chart.js";

const POLL_MS = 1000;
/** Log records shown. */
const LOG_ROWS = 20;

const tbody = (id: string): HTMLTableSectionElement => byTestId<HTMLTableElement>(id).tBodies[0]!;

function messageOf(reason: unknown): string {
  if (reason instanceof ApiError) return reason.status ? `${reason.message} (${reason.status} ${reason.code})` : reason.message;
  return reason instanceof Error ? reason.message : String(reason);
}

const chart = new TrafficChart(byTestId("traffic-chart"));
let versions = new Map<string, string>();

async function refresh(): Promise<void> {
  const [stats, health, pipelines, models, logs] = await Promise.allSettled([getStats(), getHealth(), getPipelines(), getModels(), getLatestLogs(LOG_ROWS)]);

  if (stats.status === "fulfilled") chart.update(stats.value);
  setError(byTestId("traffic-error"), stats.status === "rejected" ? messageOf(stats.reason) : undefined);

  const link = byTestId("link-state");
  const l = health.status === "fulfilled" ? describeLink(health.value) : { text: `Ops link: unknown (${messageOf(health.reason)})`, state: "unknown" };
  link.textContent = l.text;
  link.dataset.state = l.state;

  if (pipelines.status === "fulfilled") {
    showPipelines(tbody("pipelines-table"), pipelines.value);
    versions = versionsOf(pipelines.value);
  }
  setError(byTestId("pipelines-error"), pipelines.status === "rejected" ? messageOf(pipelines.reason) : undefined);

  if (models.status === "fulfilled") showModels(tbody("models-table"), models.value);
  setError(byTestId("models-error"), models.status === "rejected" ? messageOf(models.reason) : undefined);

  if (logs.status === "fulfilled") showLogs(tbody("logs-table"), logs.value, versions);
  setError(byTestId("logs-error"), logs.status === "rejected" ? `log records unavailable: ${messageOf(logs.reason)}` : undefined);

  const failed = [stats, health, pipelines, models, logs].filter((r) => r.status === "rejected").length;
  byTestId("updated-at").textContent = `updated ${new Date().toLocaleTimeString(undefined, { hour12: false })}${failed ? ` · ${failed} of 5 calls failed` : ""}`;
}

async function poll(): Promise<void> {
  for (;;) {
    const started = Date.now();
    try {
      await refresh();
    } catch (err) {
      // A rendering bug must not stop the page from updating; the console says what happened.
      console.error("dashboard refresh failed", err);
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(100, POLL_MS - (Date.now() - started))));
  }
}

void poll();
