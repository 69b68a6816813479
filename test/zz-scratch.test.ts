import { it } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { startTestCluster } from "./helpers/cluster.js";

it("scratch", async () => {
  const t0 = Date.now();
  const c = await startTestCluster(3);
  console.log("up in", Date.now() - t0, c.urls);
  try {
    const nc = await connect({ servers: c.urls, maxReconnectAttempts: -1 });
    const jsm = await jetstreamManager(nc);
    const si = await jsm.streams.add({ name: "X", subjects: ["x.>"], num_replicas: 3 });
    console.log(JSON.stringify(si.cluster));
    await c.kill(1);
    const t1 = Date.now();
    for (let i = 0; i < 50; i++) {
      try { const s = await jsm.streams.info("X"); console.log(Date.now() - t1, JSON.stringify(s.cluster)); if (i > 5) break; } catch (e) { console.log(Date.now() - t1, (e as Error).message); }
      await new Promise((r) => setTimeout(r, 300));
    }
    await c.restart(1);
    const t2 = Date.now();
    for (let i = 0; i < 30; i++) {
      try { const s = await jsm.streams.info("X"); console.log(Date.now() - t2, JSON.stringify(s.cluster)); } catch (e) { console.log(Date.now() - t2, (e as Error).message); }
      await new Promise((r) => setTimeout(r, 300));
    }
    await nc.close();
  } finally {
    await c.stop();
  }
});
