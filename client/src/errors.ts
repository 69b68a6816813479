import { ErrorCodes, isErrorCode, isSubjectToken, type ErrorBody, type ErrorCode } from "@ferry/contracts";

/** Codes the client raises itself, with the HTTP-like status each carries. */
export const ClientErrorCodes = {
  /** No answer (or no acknowledgement) within the time allowed. */
  timeout: 504,
  /** Too many bytes wait for the site already (see `maxBufferBytes`). */
  offline_buffer_full: 503,
  /** Nothing answers on the subject (no inferer serves that pipeline). */
  no_inferer: 503,
  /** No JetStream stream takes durable requests or results: the site has not created them. */
  no_stream: 503,
  /** JetStream refused a durable request (e.g. the request queue is full). */
  submit_refused: 503,
  /** The reply could not be read (not JSON, not records). */
  bad_reply: 502,
  /** The NATS connection was closed or is draining. */
  connection_closed: 503,
  /** The HTTP gateway could not be reached. */
  unreachable: 503,
} as const;

/** One of the client's own error codes. */
export type ClientErrorCode = keyof typeof ClientErrorCodes;

/** Every code a FerryClientError can carry: the server's stable codes and the client's own. */
export type FerryClientErrorCode = ErrorCode | ClientErrorCode;

/** An error with a stable `code` (the server's, or the client's own) and an HTTP-like `status`. */
export class FerryClientError extends Error {
  override readonly name = "FerryClientError";
  readonly code: FerryClientErrorCode;
  readonly status: number;

  constructor(code: FerryClientErrorCode, message: string, options?: ErrorOptions & { status?: number }) {
    super(message, options);
    this.code = code;
    this.status = options?.status ?? statusOf(code);
  }
}

function statusOf(code: FerryClientErrorCode): number {
  return Object.hasOwn(ClientErrorCodes, code) ? ClientErrorCodes[code as ClientErrorCode] : ErrorCodes[code as ErrorCode];
}

const decoder = new TextDecoder();

/** The error a failed reply stands for, from its status and JSON body `{"error", "code"}`. */
export function errorFromReply(status: number, body: Uint8Array): FerryClientError {
  const text = decoder.decode(body);
  let parsed: Partial<ErrorBody> | undefined;
  try {
    parsed = JSON.parse(text) as Partial<ErrorBody>;
  } catch {
    // Not JSON: a proxy's error page, say. Reported below with the text.
  }
  if (parsed && isErrorCode(parsed.code)) {
    return new FerryClientError(parsed.code, String(parsed.error ?? parsed.code), { status });
  }
  return new FerryClientError("bad_reply", `status ${status} with an unreadable error body: ${text.slice(0, 200)}`, { status });
}

/** Throws `bad_request` unless `value` can be one NATS subject token (letters, digits, `_`, `-`). */
export function requireToken(what: string, value: string): void {
  if (!isSubjectToken(value)) {
    throw new FerryClientError("bad_request", `${what} "${value}" must be 1-128 letters, digits, "_" or "-" (it becomes a NATS subject token)`);
  }
}
