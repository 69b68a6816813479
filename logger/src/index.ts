export { start, type LoggerOptions } from "./logger.js";
