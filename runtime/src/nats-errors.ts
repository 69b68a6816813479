/**
 * NATS failures recognised by nats.js's typed errors (and JetStream's API error codes), never by the
 * wording of a message: wordings change between client and server versions, classes and codes do not.
 */
import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
// nats.js exports its JetStream error classes only from the internal entry point.
import { jserrors } from "@nats-io/jetstream/internal";
import { errors } from "@nats-io/transport-node";

/** Why a message is an error: the error itself and its `cause` chain. */
function* chain(err: unknown): Generator<unknown> {
  for (let e = err, depth = 0; e !== undefined && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) yield e;
}

/** Nobody subscribes to the subject (a request or a JetStream publish with no stream). */
export function isNoResponders(err: unknown): boolean {
  for (const e of chain(err)) {
    if (e instanceof errors.NoRespondersError) return true;
    if (e instanceof errors.RequestError && e.isNoResponders()) return true;
  }
  return false;
}

/** A request or an API call that got no answer in time. */
export function isTimeout(err: unknown): boolean {
  for (const e of chain(err)) if (e instanceof errors.TimeoutError) return true;
  return false;
}

/** The connection is closed or draining, or was lost during the call. */
export function isConnectionGone(err: unknown): boolean {
  for (const e of chain(err)) {
    if (e instanceof errors.ClosedConnectionError || e instanceof errors.DrainingConnectionError || e instanceof errors.ConnectionError) return true;
  }
  return false;
}

/** The server refused this user: a subject it may not use, or no valid credentials. */
export function isPermissionDenied(err: unknown): boolean {
  for (const e of chain(err)) {
    if (e instanceof errors.PermissionViolationError || e instanceof errors.AuthorizationError) return true;
  }
  return false;
}

/** A NATS failure that may pass (no responders, timeout, lost connection): worth trying again later. */
export function isTransient(err: unknown): boolean {
  return isNoResponders(err) || isTimeout(err) || isConnectionGone(err);
}

/**
 * A failure of NATS or JetStream rather than of the caller's code: a transient one (above), JetStream not
 * answering, or any JetStream API or status error (a stream or consumer missing or moving, a leader
 * being elected, JetStream "temporarily unavailable"). A service answering from JetStream says 503 for
 * these, as the store's condition, and keeps 500 for its own faults. Permission errors are not among them.
 */
export function isJetStreamFailure(err: unknown): boolean {
  if (isTransient(err)) return true;
  for (const e of chain(err)) {
    if (e instanceof JetStreamApiError || e instanceof jserrors.JetStreamError || e instanceof jserrors.JetStreamNotEnabled) return true;
  }
  return false;
}

/** JetStream's API answered with an error code (see JetStreamApiCodes), or with this HTTP-like status. */
function apiError(err: unknown): JetStreamApiError | undefined {
  for (const e of chain(err)) if (e instanceof JetStreamApiError) return e;
  return undefined;
}

/** The stream (or a KV bucket / object store, which are streams) does not exist. */
export function isStreamNotFound(err: unknown): boolean {
  return apiError(err)?.code === JetStreamApiCodes.StreamNotFound;
}

/** The consumer does not exist. */
export function isConsumerNotFound(err: unknown): boolean {
  return apiError(err)?.code === JetStreamApiCodes.ConsumerNotFound;
}

/** Creating a stream that exists with another configuration (JetStream's "stream name already in use"). */
export function isStreamNameInUse(err: unknown): boolean {
  return apiError(err)?.code === STREAM_NAME_IN_USE;
}

/** JSStreamNameExistErr in nats-server's errors.json; nats.js does not name it. */
const STREAM_NAME_IN_USE = 10058;

/** A JetStream publish or API call that no stream or JetStream answers (nats.js: "jetstream is not enabled"). */
export function isJetStreamUnavailable(err: unknown): boolean {
  for (const e of chain(err)) if (e instanceof jserrors.JetStreamNotEnabled) return true;
  return isNoResponders(err);
}
