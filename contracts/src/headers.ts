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
  /** On durable requests: JetStream's de-duplication id (submissions with the same id are stored once). */
  msgId: "Nats-Msg-Id",
  /** On durable results: how many times the request was delivered to an inferer. */
  deliveries: "Ferry-Deliveries",
} as const;
