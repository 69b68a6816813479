import { createHash } from "node:crypto";
import type { ObjectStore } from "@nats-io/obj";
import { FerryError } from "@ferry/contracts";

/** How long a model transfer may go without receiving a byte before it is given up (the link may be gone). */
export const TRANSFER_STALL_MS = 60_000;

/**
 * Copies the model object `sha` from the hub's store into the site's unless the site has it; checks
 * the bytes against the sha256 the manifest names. Resolves whether it copied.
 */
export async function copyModel(hub: ObjectStore, local: ObjectStore, model: string, sha: string, signal: AbortSignal): Promise<boolean> {
  const have = await local.info(sha);
  if (have && !have.deleted) return false;
  const source = await hub.get(sha);
  if (!source) throw new FerryError("not_found", `model ${model}: object ${sha} is not in the hub's model store`);
  const hash = createHash("sha256");
  let lastChunk = Date.now();
  const stall = new AbortController();
  const watchdog = setInterval(() => {
    if (Date.now() - lastChunk > TRANSFER_STALL_MS) stall.abort(new FerryError("timeout", `model ${model}: no bytes from the hub for ${TRANSFER_STALL_MS} ms`));
  }, 1000);
  const hashing = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      lastChunk = Date.now();
      hash.update(chunk);
      controller.enqueue(chunk);
    },
  });
  try {
    await local.put({ name: sha, description: `${model} (onnx, from the Ops hub)` }, source.data.pipeThrough(hashing, { signal: AbortSignal.any([signal, stall.signal]) }));
    const got = hash.digest("hex");
    if (got !== sha) throw new FerryError("bad_gateway", `model ${model}: the hub sent bytes whose sha256 is ${got}, not ${sha}`);
    return true;
  } catch (err) {
    // A partial or wrong object must not count as "present" on the next try.
    await local.delete(sha).catch(() => undefined);
    throw err;
  } finally {
    clearInterval(watchdog);
  }
}
