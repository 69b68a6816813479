// Minimal types for the parts of autocannon 8 the bench uses (the package ships none).
declare module "autocannon" {
  import type { EventEmitter } from "node:events";

  namespace autocannon {
    interface Options {
      url: string;
      connections?: number;
      /** Seconds. */
      duration?: number;
      method?: "GET" | "POST" | "PUT" | "DELETE";
      headers?: Record<string, string>;
      body?: string | Buffer;
      pipelining?: number;
      /** Seconds before a request counts as a timeout. */
      timeout?: number;
    }

    interface Result {
      /** Seconds the run lasted. */
      duration: number;
      errors: number;
      timeouts: number;
      non2xx: number;
      "2xx": number;
      totalCompletedRequests: number;
    }

    /** Emits "response" (client, statusCode, bytes, responseTimeMs) for every reply. */
    type Instance = EventEmitter;
  }

  function autocannon(options: autocannon.Options, done: (err: Error | null, result: autocannon.Result) => void): autocannon.Instance;
  export = autocannon;
}
