// The traffic chart (uPlot, bundled) and the figures above it.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { DashboardStats } from "./gateway-api.js";
import { byTestId } from "./dom.js";

/** Series colours; the test looks for the requests/s colour on the canvas. */
export const COLOURS = { rps: "#2563eb", p50: "#16a34a", p99: "#dc2626" } as const;

/** Latency for people: µs below a millisecond, else ms with 3 digits. */
export function formatMs(ms: number | null): string {
  if (ms === null) return "–";
  return ms < 1 ? `${Math.round(ms * 1000)} µs` : `${Number(ms.toPrecision(3))} ms`;
}

function options(width: number): uPlot.Options {
  return {
    width,
    height: 220,
    scales: { x: { time: true }, rps: { auto: true, range: (_u, _min, max) => [0, Math.max(1, max)] }, ms: { auto: true, range: (_u, _min, max) => [0, Math.max(1, max)] } },
    series: [
      {},
      { label: "requests/s", scale: "rps", stroke: COLOURS.rps, width: 2, fill: "rgba(37, 99, 235, 0.08)", points: { show: false }, value: (_u, v) => (v === null ? "–" : String(v)) },
      { label: "p50", scale: "ms", stroke: COLOURS.p50, width: 1.5, value: (_u, v) => formatMs(v) },
      { label: "p99", scale: "ms", stroke: COLOURS.p99, width: 1.5, value: (_u, v) => formatMs(v) },
    ],
    axes: [
      {},
      { scale: "rps", label: "requests/s" },
      { scale: "ms", side: 1, label: "latency (ms)", grid: { show: false } },
    ],
  };
}

/** Requests per second and p50/p99 latency over the last minute. */
export class TrafficChart {
  readonly #container: HTMLElement;
  readonly #plot: uPlot;

  constructor(container: HTMLElement) {
    this.#container = container;
    this.#plot = new uPlot(options(this.#width()), [[], [], [], []], container);
    window.addEventListener("resize", () => this.#plot.setSize({ width: this.#width(), height: 220 }));
  }

  /** Draws the stats' seconds and sets the figures. */
  update(stats: DashboardStats): void {
    const s = stats.seconds;
    this.#plot.setData([s.map((p) => p.time / 1000), s.map((p) => p.requests), s.map((p) => p.p50_ms), s.map((p) => p.p99_ms)]);
    // For tests and the curious: how many seconds of the window had traffic.
    this.#container.dataset.busySeconds = String(s.filter((p) => p.requests > 0).length);
    byTestId("rps").textContent = String(Number(stats.recent.requests_per_s.toPrecision(3)));
    byTestId("rps").title = `mean over the last ${stats.recent.span_s} s`;
    byTestId("latency-p50").textContent = formatMs(stats.recent.p50_ms);
    byTestId("latency-p99").textContent = formatMs(stats.recent.p99_ms);
    byTestId("total-requests").textContent = String(stats.total.requests);
    byTestId("total-errors").textContent = String(stats.total.errors);
    byTestId("gateways").textContent = String(stats.gateways);
    byTestId("gateways").title = "gateways whose traffic these figures sum";
  }

  #width(): number {
    return Math.max(320, this.#container.clientWidth || 600);
  }
}
