export { start, LoggerQueue, type LoggerOptions, type LogService, type LogStoreStats } from "./logger.js";
export { ensureLogStream, logStreamConfig, prunedCount, type LogStorage } from "./log-stream.js";
export { LogReader, type LogPage, type StoredRecord } from "./log-query.js";
