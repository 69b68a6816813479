import { createServer } from "node:net";

/** A free loopback port: listen on port 0, note it, close (a race with other processes is unlikely here). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", resolve);
  });
  const address = srv.address();
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  if (!address || typeof address !== "object") throw new Error("no port");
  return address.port;
}
