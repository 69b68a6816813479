/** NATS header names used on inference messages (HTTP names where HTTP has one). */
export const Headers = {
  contentType: "Content-Type",
  accept: "Accept",
  requestId: "Ferry-Request-Id",
  /** On replies: the HTTP status the gateway answers with. */
  status: "Ferry-Status",
  /** On requests: the key an A/B split routes by (the same key always reaches the same model). */
  splitKey: "Ferry-Split-Key",
  /** On requests and replies: the body is a batch envelope with this many parts. */
  batch: "Ferry-Batch",
} as const;
