import { connect } from "@nats-io/transport-node";
import cliProgress from "cli-progress";
import { openStores, publishManifestFile, setCurrentPipeline, undeploy } from "@ferry/deployer";
import { natsConnectOptions, natsCredentials, natsUrlWithCredentials } from "@ferry/runtime";
import type { DeployOptions } from "./options.js";
import { knownPassword } from "./site-users.js";

/**
 * The site's server (NATS_URL, else the local one) as its admin user when the site requires credentials:
 * derived from FERRY_NATS_SECRET, else from `<data>/nats/users.json`.
 */
async function adminUrl(o: DeployOptions): Promise<string> {
  const url = o.natsUrl ?? `nats://127.0.0.1:${o.natsPort}`;
  // A NATS_URL elsewhere carries its own credentials unless the site secret derives them.
  const password = o.natsUrl && !o.natsSecret ? undefined : await knownPassword(o, "admin");
  return password && !natsCredentials(url) ? natsUrlWithCredentials(url, "admin", password) : url;
}

/** `ferry deploy`, `ferry undeploy`, `ferry current`: talk to the site's NATS server (NATS_URL or --nats-url). */
export async function deployCommand(command: DeployOptions["command"], o: DeployOptions): Promise<number> {
  const target = o.args[0];
  if (!target) {
    process.stderr.write(`ferry ${command}: missing ${command === "deploy" ? "MANIFEST" : "PIPELINE"}\n`);
    return 2;
  }
  const url = await adminUrl(o);
  const nc = await connect({ ...natsConnectOptions(url), name: `ferry-${command}` });
  try {
    const stores = await openStores(nc);
    if (command === "undeploy") {
      await undeploy(stores, target);
      process.stdout.write(`undeployed ${target}\n`);
    } else if (command === "current") {
      await setCurrentPipeline(stores, target);
      process.stdout.write(`current pipeline: ${target}\n`);
    } else {
      const bar = new cliProgress.SingleBar({ format: "uploading {model} |{bar}| {percentage}% {value}/{total} bytes", stream: process.stderr }, cliProgress.Presets.shades_classic);
      let started = "";
      const result = await publishManifestFile(stores, target, {
        progress: (model, sent, total) => {
          if (total < 1024 * 1024) return;
          if (started !== model) {
            if (started) bar.stop();
            bar.start(total, 0, { model });
            started = model;
          }
          bar.update(sent, { model });
        },
      });
      if (started) bar.stop();
      if (o.setCurrent) await setCurrentPipeline(stores, result.manifest.pipeline);
      process.stdout.write(`deployed ${result.manifest.pipeline} version ${result.manifest.pipeline_version}` +
        ` (uploaded: ${result.uploaded.length > 0 ? result.uploaded.join(", ") : "none, all models already stored"})${o.setCurrent ? ", now current" : ""}\n`);
    }
    return 0;
  } finally {
    await nc.drain();
  }
}
