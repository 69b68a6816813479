import type { Service } from "@ferry/runtime";
import type { SitePasswords } from "./site-users.js";

/** What `ferry start` runs; `stop()` stops the services, then the spawned nats-server. */
export interface Site {
  /** The NATS server's URL (without credentials). */
  readonly natsUrl: string;
  /** Role passwords, when the server requires credentials (`--nats-auth`, `FERRY_NATS_SECRET`). */
  readonly passwords: SitePasswords | undefined;
  readonly url: string | undefined;
  /** The gateway's gRPC port (Open Inference Protocol), when it serves one. */
  readonly grpcPort?: number;
  readonly services: Service[];
  /** `ferry start ops`, its first start only: the admin token it made, to be printed once. */
  readonly opsAdminToken?: string;
  /** The CA clients check this site's (or hub's) certificates against, when it serves TLS: its file and SHA-256. */
  readonly ca?: { file: string; sha256: string } | undefined;
  stop(): Promise<void>;
}
