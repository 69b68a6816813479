/** Stable error codes with the HTTP status each is answered with. */
export const ErrorCodes = {
  bad_json: 400,
  bad_records: 400,
  bad_arrow: 400,
  bad_request: 400,
  empty_body: 400,
  bad_tensor: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  unknown_pipeline: 404,
  unknown_model: 404,
  unknown_version: 404,
  method_not_allowed: 405,
  not_acceptable: 406,
  request_timeout: 408,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  headers_too_large: 431,
  missing_input: 422,
  bad_shape: 422,
  bad_input_type: 422,
  inference_failed: 500,
  internal: 500,
  delivery_limit: 500,
  bad_gateway: 502,
  untrusted_hub: 502,
  no_inferer: 503,
  pipeline_not_ready: 503,
  logs_unavailable: 503,
  unavailable: 503,
  overloaded: 503,
  inferer_timeout: 504,
  timeout: 504,
} as const;

/** One of Ferry's stable error codes. */
export type ErrorCode = keyof typeof ErrorCodes;

/** The JSON body of every Ferry error reply. */
export interface ErrorBody {
  error: string;
  code: ErrorCode;
}

/** An error with a stable `code` and the HTTP status it maps to; crosses NATS as `Ferry-Status` + JSON body. */
export class FerryError extends Error {
  override readonly name = "FerryError";
  readonly code: ErrorCode;
  readonly status: number;

  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.status = ErrorCodes[code];
  }

  /** The reply body for this error. */
  toBody(): ErrorBody {
    return { error: this.message, code: this.code };
  }
}

/** Whether `code` is one of Ferry's error codes. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.hasOwn(ErrorCodes, code);
}

/** Any thrown value as a FerryError (unknown errors become `internal`, keeping the cause). */
export function asFerryError(err: unknown): FerryError {
  if (err instanceof FerryError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new FerryError("internal", message, { cause: err });
}
