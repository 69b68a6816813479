/**
 * Ferry's client library: inference over the HTTP API, and over NATS for devices (synchronous
 * request/reply, and durable requests whose results are kept in JetStream).
 */
export { ClientErrorCodes, FerryClientError, type ClientErrorCode, type FerryClientErrorCode } from "./errors.js";
export { encodeInput, isArrowFile, type EncodedInput, type InferInput } from "./input.js";
export { outputValues, type InferenceRecord, type OutputTensorJson } from "./records.js";
export { httpClient, type HttpClientOptions, type HttpFerryClient, type InferOptions } from "./http-client.js";
export {
  connectNats, type NatsClientOptions, type NatsFerryClient, type NatsInferOptions, type ResultOptions, type SubmitOptions, type Submitted,
} from "./nats-client.js";
export { type DurableResult, type ResultsOptions } from "./durable-results.js";
