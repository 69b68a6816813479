// `ferry ops token create|list|revoke`: the Ops API's /tokens routes, called with an admin token. Through
// the API rather than the hub's data folder: it works from any machine that reaches the API, and the
// hub's own checks (role, input) and log (who made or revoked what) apply to the CLI as to any caller.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fetchTrusting } from "@ferry/runtime";
import type { OpsTokenOptions } from "./options.js";

/** A token as `GET /tokens` lists it. */
interface TokenView {
  id: string;
  role: string;
  name: string;
  created_at: number;
  expires_at: number | null;
  expired: boolean;
}

/** Runs `ferry ops token create|list|revoke`; resolves to the exit code. */
export async function opsTokenCommand(command: "ops token create" | "ops token list" | "ops token revoke", o: OpsTokenOptions): Promise<number> {
  if (!o.opsToken) {
    process.stderr.write("ferry: set FERRY_OPS_TOKEN (or --token) to an admin token of the Ops API: the hub printed one at its first start\n");
    return 2;
  }
  switch (command) {
    case "ops token create": {
      const made = await call(o, "POST", "/tokens", { role: o.role, name: o.tokenName, ttl_ms: o.ttlMs }) as TokenView & { token: string };
      // The token alone on stdout (TOKEN=$(ferry ops token create …)); what it is on stderr.
      process.stdout.write(`${made.token}\n`);
      process.stderr.write(`made ${made.role} token ${made.id}${made.name ? ` (${made.name})` : ""}, ${expiry(made)}; it is shown only now\n`);
      return 0;
    }
    case "ops token list":
      process.stdout.write(table(await call(o, "GET", "/tokens") as TokenView[]));
      return 0;
    case "ops token revoke": {
      const { revoked } = await call(o, "DELETE", `/tokens/${encodeURIComponent(o.args[0]!)}`) as { revoked: string };
      process.stdout.write(`revoked ${revoked}\n`);
      return 0;
    }
  }
}

async function call(o: OpsTokenOptions, method: string, path: string, body?: unknown): Promise<unknown> {
  const url = `${o.opsUrl.replace(/\/$/, "")}${path}`;
  const headers: Record<string, string> = { Authorization: `Bearer ${o.opsToken}`, ...(body ? { "Content-Type": "application/json" } : {}) };
  let res: Response;
  try {
    res = await opsFetch(o)(url, { method, headers, body: body ? JSON.stringify(body) : undefined, signal: AbortSignal.timeout(30_000) });
  } catch (err) {
    throw new Error(`cannot reach the Ops API at ${url} (--ops-url, FERRY_OPS_URL): ${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message}`, { cause: err });
  }
  const reply = await res.json().catch(() => ({})) as { error?: string; code?: string };
  if (!res.ok) throw new Error(`${method} ${path} answered ${res.status} ${reply.code ?? ""}: ${reply.error ?? "no reason given"}`);
  return reply;
}

/** `fetch` trusting the hub's CA: --ops-ca, else the hub's own one when run on the hub's box, else the system's CAs. */
function opsFetch(o: OpsTokenOptions): typeof fetch {
  const own = join(o.data, "hub", "tls", "ca.pem");
  const ca = o.opsCa ?? (existsSync(own) ? own : undefined);
  return ca ? fetchTrusting(readFileSync(ca, "utf8")) : fetch;
}

function expiry(t: TokenView): string {
  if (t.expires_at === null) return "never expires";
  return `${t.expired ? "expired" : "expires"} ${new Date(t.expires_at).toISOString()}`;
}

function table(tokens: TokenView[]): string {
  const rows = [["ID", "ROLE", "NAME", "CREATED", "EXPIRES"], ...tokens.map((t) => [t.id, t.role, t.name || "-", new Date(t.created_at).toISOString(), expiry(t)])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n") + "\n";
}
