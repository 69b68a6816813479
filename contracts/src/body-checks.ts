import type { InputFormat } from "./content-types.js";
import { FerryError } from "./errors.js";

/** `ARROW1`: the first bytes of an Arrow IPC file. */
const FILE_MAGIC = [0x41, 0x52, 0x52, 0x4f, 0x57, 0x31] as const;

/** Whether `body` starts like Arrow IPC: a file's `ARROW1`, or a stream's continuation marker 0xFFFFFFFF. */
export function hasArrowMagic(body: Uint8Array): boolean {
  if (body.length >= 4 && body[0] === 0xff && body[1] === 0xff && body[2] === 0xff && body[3] === 0xff) return true;
  return body.length >= FILE_MAGIC.length && FILE_MAGIC.every((b, i) => body[i] === b);
}

/**
 * Cheap checks of a request body before it is decoded (a few bytes read): an empty body, or an Arrow
 * body that is not Arrow at all, would otherwise surface as a decoder's puzzling message ("Arrow table
 * has no columns"). Throws FerryError `empty_body` or `bad_arrow` (400).
 */
export function checkRequestBody(format: InputFormat, body: Uint8Array): void {
  if (body.length === 0) {
    throw new FerryError("empty_body", "empty body: send an Arrow IPC file or stream, or pandas-records JSON (an array of row objects)");
  }
  if (format === "arrow" && !hasArrowMagic(body)) {
    throw new FerryError("bad_arrow", "not an Arrow IPC file (bad magic): an Arrow file starts with ARROW1, an Arrow stream with 0xFFFFFFFF");
  }
}
