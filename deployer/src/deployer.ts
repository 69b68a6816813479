import { headers, type Msg, type NatsConnection } from "@nats-io/transport-node";
import { DeployerQueue, FerryError, Headers, MediaTypes, Subjects, asFerryError, isSubjectToken, parseManifest } from "@ferry/contracts";
import { serviceOf, type Service, connectService, isJetStreamFailure, openDeploymentStores, openOnUse } from "@ferry/runtime";
import { pino, type Logger } from "pino";
import { deployManifest, setCurrentPipeline, undeploy } from "./publish.js";

/** How to start the deployer service. */
export interface DeployerOptions {
  natsUrl?: string;
  nc?: NatsConnection;
  logger?: Logger;
}


/** Starts the deployer: answers `ferry.deploy`, `ferry.undeploy` and `ferry.current` (for the Ops hub). */
export async function start(options: DeployerOptions = {}): Promise<Service> {
  const log = options.logger ?? pino({ name: "deployer" });
  const nc = options.nc ?? await connectService("ferry-deployer", options.natsUrl);
  // Opened on first use: until the site is provisioned each request answers `unavailable`.
  const stores = openOnUse(() => openDeploymentStores(nc));
  const handlers: Record<string, (body: unknown) => Promise<unknown>> = {
    [Subjects.deploy]: async (body) => (await deployManifest(await stores(), parseManifest(body, "deploy request"))).manifest,
    [Subjects.undeploy]: async (body) => { const p = pipelineOf(body); await undeploy(await stores(), p); return { pipeline: p, undeployed: true }; },
    [Subjects.setCurrent]: async (body) => { const p = pipelineOf(body); await setCurrentPipeline(await stores(), p); return { current: p }; },
  };
  const subs = Object.entries(handlers).map(([subject, handle]) => nc.subscribe(subject, {
    queue: DeployerQueue,
    callback: (err, msg) => { if (!err) void answer(msg, handle, log); },
  }));
  await nc.flush();
  return serviceOf("deployer", async () => {
    await Promise.all(subs.map((s) => s.drain()));
    await nc.drain();
  }, {});
}

function pipelineOf(body: unknown): string {
  const p = (body as { pipeline?: unknown } | null)?.pipeline;
  if (typeof p !== "string" || !isSubjectToken(p)) throw new FerryError("bad_request", "body must be {\"pipeline\": \"<name>\"}");
  return p;
}

async function answer(msg: Msg, handle: (body: unknown) => Promise<unknown>, log: Logger): Promise<void> {
  const h = headers();
  h.set(Headers.contentType, MediaTypes.json);
  try {
    let body: unknown;
    try {
      body = msg.json<unknown>();
    } catch (err) {
      throw new FerryError("bad_json", `request body is not JSON: ${(err as Error).message}`);
    }
    const result = await handle(body);
    h.set(Headers.status, "200");
    msg.respond(JSON.stringify(result), { headers: h });
  } catch (err) {
    // JetStream failing the request (a failover, a bucket deleted) is the store's condition: 503, retry.
    const e = !(err instanceof FerryError) && isJetStreamFailure(err)
      ? new FerryError("unavailable", `the deployment store did not answer: ${(err as Error).message}; retry shortly`, { cause: err })
      : asFerryError(err);
    if (e.status >= 500) log.error({ err }, "deployment request failed");
    h.set(Headers.status, String(e.status));
    msg.respond(JSON.stringify(e.toBody()), { headers: h });
  }
}
