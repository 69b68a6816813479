import { execFileSync } from "node:child_process";
import { cpus } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import ort from "onnxruntime-node";
import { findNatsServer, natsServerVersion } from "@ferry/natsd";
import { repoRoot } from "./config.js";
import { cpuWindow } from "./load.js";

/** A progress line on stderr (the tables go to stdout). */
export function progress(line: string): void {
  process.stderr.write(`[bench] ${line}\n`);
}

function git(args: string[]): string {
  try {
    return execFileSync("git", args, { cwd: repoRoot, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "?";
  }
}

/** What a bench ran on, including how busy the machine was just before (other sessions share it). */
export async function describeMachine(): Promise<Record<string, string | number | boolean>> {
  const close = cpuWindow([]);
  await sleep(1000);
  const busy = (await close())[0]?.totalPct ?? Number.NaN;
  if (busy > 20) progress(`WARNING: other processes use ${busy}% of a core before the bench starts; the numbers will be skewed`);
  const nats = findNatsServer();
  return {
    cpus: cpus().length,
    cpu: cpus()[0]?.model.trim() ?? "?",
    node: process.version,
    onnxruntime: ort.env.versions.node ?? "?",
    "nats-server": nats ? natsServerVersion(nats.path).join(".") : "missing",
    commit: git(["rev-parse", "--short", "HEAD"]),
    dirty: git(["status", "--porcelain"]) !== "",
    "other load before start %": busy,
  };
}
