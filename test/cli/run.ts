// Runs the built `shardcost` bin as a subprocess, as a user's shell would.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "../..");
export const BIN = join(ROOT, "packages/cli/bin/shardcost.js");

export interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function shardcost(args: readonly string[], cwd = ROOT): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
    maxBuffer: 256 * 1024 * 1024,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A scratch directory with the given files written into it. */
export function scratch(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "shardcost-test-"));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/** No stack trace from inside the library or Node: no `    at fn (file:line:col)` frames. */
export function expectNoStackTrace(text: string) {
  if (/^\s+at .+\(.+:\d+:\d+\)$/m.test(text) || /node:internal/.test(text)) {
    throw new Error(`stack trace in output:\n${text}`);
  }
}
