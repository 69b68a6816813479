import { FerryError } from "@ferry/contracts";
import { isNoResponders, isTimeout } from "@ferry/runtime";

/** Maps a failed NATS request to the FerryError the client gets: `no_inferer`, `inferer_timeout` or `bad_gateway`. */
export function natsError(err: unknown, subject: string, timeoutMs: number): FerryError {
  if (err instanceof FerryError) return err;
  if (isNoResponders(err)) return new FerryError("no_inferer", `no inferer is answering ${subject}`, { cause: err });
  if (isTimeout(err)) return new FerryError("inferer_timeout", `no reply on ${subject} within ${timeoutMs} ms`, { cause: err });
  return new FerryError("bad_gateway", `request on ${subject} failed: ${(err as Error).message}`, { cause: err });
}
