export { start, LoggerQueue, type LoggerOptions, type LogService, type LogStoreStats } from "./logger.js";
export { LogStreamWatch, prunedCount } from "./log-stream.js";
export { LogReader, type LogPage, type StoredRecord } from "./log-query.js";
export { pageRetrying } from "./query-reply.js";
