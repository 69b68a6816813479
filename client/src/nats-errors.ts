import { JetStreamApiError, JetStreamError } from "@nats-io/jetstream";
import { RequestStream, ResultStream } from "@ferry/contracts";
import { isConnectionGone, isNoResponders, isTimeout } from "@ferry/runtime";
import { FerryClientError } from "./errors.js";
import type { LinkState } from "./link-state.js";

/** What the failed NATS call was doing: it decides what "nobody answers" means. */
export type NatsCallKind = "infer" | "submit" | "read";

/** Maps a failed NATS call on `subject` to a FerryClientError (client errors pass through). */
export function natsFailure(err: unknown, subject: string, kind: NatsCallKind, link: LinkState): FerryClientError {
  if (err instanceof FerryClientError) return err;
  if (isNoResponders(err)) return noResponders(err, subject, kind);
  if (isTimeout(err)) return new FerryClientError("timeout", `${subject}: no answer in time (${link.describe()})`, { cause: err });
  if (isConnectionGone(err)) return new FerryClientError("connection_closed", `${subject}: the NATS connection is closed`, { cause: err });
  if (kind === "submit" && (err instanceof JetStreamApiError || err instanceof JetStreamError)) {
    return new FerryClientError("submit_refused", `${RequestStream} refused the request on ${subject}: ${err.message}`, { cause: err });
  }
  return new FerryClientError("internal", `${subject}: ${(err as Error).message}`, { cause: err });
}

function noResponders(err: unknown, subject: string, kind: NatsCallKind): FerryClientError {
  if (kind === "infer") return new FerryClientError("no_inferer", `no inferer is answering ${subject}`, { cause: err });
  const stream = kind === "submit" ? RequestStream : ResultStream;
  return new FerryClientError("no_stream", `no JetStream stream answers ${subject}: the site has not created ${stream}`, { cause: err });
}
