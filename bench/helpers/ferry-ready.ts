import { setTimeout as sleep } from "node:timers/promises";
import { exited, type Child } from "./procs.js";

const readyTimeoutMs = 30_000;

/** Polls GET /pipelines until `pipeline` is Running; fails fast when the child exits. */
export async function waitForPipeline(url: string, pipeline: string, child: Child): Promise<void> {
  const deadline = Date.now() + readyTimeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    if (exited(child)) throw new Error(`${child.label} exited before it was ready:\n${child.output()}`);
    try {
      const body = (await (await fetch(`${url}/pipelines`)).json()) as { pipelines?: { id: string; status: string }[] };
      last = JSON.stringify(body);
      if (body.pipelines?.some((p) => p.id === pipeline && p.status === "Running")) return;
    } catch (err) {
      last = String(err); // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${url}/pipelines did not report ${pipeline} Running within ${readyTimeoutMs} ms: ${last}\n${child.output()}`);
}
