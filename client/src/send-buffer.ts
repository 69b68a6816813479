import { FerryClientError } from "./errors.js";
import type { LinkState } from "./link-state.js";

/**
 * Bounds the bytes of requests the client holds until the site answers or acknowledges them, so a
 * device cut off from its site for days refuses new work at once instead of growing without limit.
 */
export class SendBuffer {
  readonly maxBytes: number;
  readonly #link: LinkState;
  #bytes = 0;
  #count = 0;

  constructor(maxBytes: number, link: LinkState) {
    this.maxBytes = maxBytes;
    this.#link = link;
  }

  /** Bytes held now. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Makes room for a message of `bytes` and returns the function that gives it back, or throws
   * `offline_buffer_full`. A message alone always fits, so one larger than the bound can still go.
   */
  reserve(bytes: number): () => void {
    if (this.#count > 0 && this.#bytes + bytes > this.maxBytes) {
      const waiting = this.#link.up ? "waiting for the site to answer" : this.#link.describe();
      throw new FerryClientError("offline_buffer_full",
        `${this.#bytes} bytes in ${this.#count} requests are held (${waiting}); ${bytes} more would pass maxBufferBytes ${this.maxBytes}`);
    }
    this.#bytes += bytes;
    this.#count++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#bytes -= bytes;
      this.#count--;
    };
  }
}
