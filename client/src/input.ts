import { MediaTypes } from "@ferry/contracts";
import { Table, tableToIPC } from "apache-arrow";

/**
 * What can be inferred on: pandas-records rows (`[{"tensor": [...]}]`), the bytes of an Arrow IPC
 * file or stream, or an apache-arrow Table (sent as an Arrow IPC file).
 */
export type InferInput = readonly Record<string, unknown>[] | Uint8Array | Table;

/** A request body with the `Content-Type` that names its format. */
export interface EncodedInput {
  body: Uint8Array;
  contentType: string;
}

const encoder = new TextEncoder();
// Every Arrow IPC file starts with these 6 bytes; a stream does not.
const ARROW_MAGIC = [0x41, 0x52, 0x52, 0x4f, 0x57, 0x31];

/** Encodes an input as the body Ferry reads, with its `Content-Type`. */
export function encodeInput(input: InferInput): EncodedInput {
  if (input instanceof Uint8Array) {
    return { body: input, contentType: isArrowFile(input) ? MediaTypes.arrowFile : MediaTypes.arrowStream };
  }
  if (Array.isArray(input)) {
    return { body: encoder.encode(JSON.stringify(input)), contentType: MediaTypes.pandasRecords };
  }
  return { body: tableToIPC(input as Table, "file"), contentType: MediaTypes.arrowFile };
}

/** Whether the bytes start with the Arrow IPC file magic (`ARROW1`). */
export function isArrowFile(bytes: Uint8Array): boolean {
  return ARROW_MAGIC.every((b, i) => bytes[i] === b);
}
