// The compiler's start-up snapshot: built once at install (`npm ci` runs the root `prepare`
// script), used by every model file compile that misses the cache. Starting Node from it skips
// loading the compiler and parsing the standard library's declarations (most of a compile).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type { CompileRequest, CompileResult, SnapshotInput } from "./compile-model.cjs";

/** Where the snapshot is kept: beside `dist/`, outside the files the package publishes. */
const FOLDER = fileURLToPath(new URL("../snapshot/", import.meta.url));
const BLOB = `${FOLDER}compiler.blob`;
/** What the blob was built by: a different Node or compiler cannot use it. */
const STAMP = `${FOLDER}compiler.json`;

interface Stamp {
  readonly node: string;
  readonly arch: string;
  readonly typescript: string;
}

const require = createRequire(import.meta.url);

/** The installed TypeScript compiler's version. */
export function typescriptVersion(): string {
  return (require("typescript/package.json") as { version: string }).version;
}

function currentStamp(): Stamp {
  return { node: process.version, arch: process.arch, typescript: typescriptVersion() };
}

/**
 * The snapshot's blob when one was built by this Node for this compiler, else undefined
 * (also when `SHARDCOST_COMPILER_SNAPSHOT=off`: model files then compile in-process).
 */
export function usableSnapshot(): string | undefined {
  if (process.env.SHARDCOST_COMPILER_SNAPSHOT === "off") return undefined;
  try {
    const built = JSON.parse(readFileSync(STAMP, "utf8")) as Stamp;
    const now = currentStamp();
    const same =
      built.node === now.node && built.arch === now.arch && built.typescript === now.typescript;
    return same && existsSync(BLOB) ? BLOB : undefined;
  } catch {
    return undefined;
  }
}

const ARGS = (blob: string) => ["--snapshot-blob", blob];

/** A result as the snapshot's run printed it; undefined when its run failed. */
function resultOf(status: number | null, stdout: string): CompileResult | undefined {
  if (status !== 0) return undefined;
  try {
    const result = JSON.parse(stdout) as CompileResult | { kind: "failed" };
    return result.kind === "failed" ? undefined : result;
  } catch {
    return undefined;
  }
}

/**
 * Compiles a model file in a Node started from the snapshot, in the background. Undefined when
 * there is no usable snapshot; its result is undefined when the run failed (the caller then
 * compiles in its own process: same result, slower).
 */
export function startInSnapshot(
  request: CompileRequest,
): { result: Promise<CompileResult | undefined>; cancel(): void } | undefined {
  const blob = usableSnapshot();
  if (blob === undefined) return undefined;
  const child = spawn(process.execPath, ARGS(blob), { stdio: ["pipe", "pipe", "ignore"] });
  const chunks: Buffer[] = [];
  child.stdout.on("data", (c: Buffer) => chunks.push(c));
  const result = new Promise<CompileResult | undefined>((done) => {
    child.on("error", () => done(undefined));
    child.on("close", (status) => done(resultOf(status, Buffer.concat(chunks).toString("utf8"))));
  });
  child.stdin.on("error", () => {});
  child.stdin.end(JSON.stringify(request));
  return {
    result,
    cancel() {
      if (child.exitCode === null && child.signalCode === null) child.kill();
    },
  };
}

/**
 * Builds the snapshot (a few seconds). Returns a line saying what happened; a snapshot that
 * cannot be built leaves none behind, and model files are then compiled in-process.
 */
export function buildSnapshot(entries: SnapshotInput["entries"]): string {
  const temp = `${BLOB}.${process.pid}`;
  // The builder runs its entry as a plain script: give the compiled CommonJS what it expects.
  const entry = `${FOLDER}entry.cjs`;
  const remove = (file: string) => {
    try {
      rmSync(file, { force: true });
    } catch {
      // Nothing there to remove (or no folder at all).
    }
  };
  const none = (why: string) => {
    remove(temp);
    return `shardcost: no compiler snapshot (${why}); model files compile without it`;
  };
  try {
    const input: SnapshotInput = {
      typescript: require.resolve("typescript"),
      compileModel: fileURLToPath(new URL("../dist/compile-model.cjs", import.meta.url)),
      entries,
    };
    rmSync(STAMP, { force: true });
    mkdirSync(FOLDER, { recursive: true });
    const script = readFileSync(new URL("../dist/compiler-snapshot.cjs", import.meta.url), "utf8");
    writeFileSync(entry, `const exports = {}, module = { exports };\n${script}`);
    const r = spawnSync(
      process.execPath,
      ["--no-warnings", "--snapshot-blob", temp, "--build-snapshot", entry],
      {
        encoding: "utf8",
        env: { ...process.env, SHARDCOST_SNAPSHOT_INPUT: JSON.stringify(input) },
      },
    );
    if (r.status !== 0 || !existsSync(temp)) {
      return none(
        (r.stderr || r.error?.message || `exit status ${r.status}`).trim().split("\n")[0]!,
      );
    }
    renameSync(temp, BLOB);
    writeFileSync(STAMP, `${JSON.stringify(currentStamp())}\n`);
    return `shardcost: compiler snapshot built (${BLOB})`;
  } catch (e) {
    // A folder that cannot be written, say: the install goes on without a snapshot.
    return none(e instanceof Error ? e.message : String(e));
  } finally {
    remove(entry);
  }
}
