// A model file's compile, and the cache of its emitted JavaScript. Only Node's own modules are
// imported here (no library, no compiler until a compile needs it), so the CLI's main thread
// can look the file up in the cache and start its compile before its worker has loaded the
// library.
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { homedir, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Script } from "node:vm";
import type { CompileRequest, CompileResult } from "./compile-model.cjs";
import { startInSnapshot, typescriptVersion } from "./snapshot.js";

// The built CommonJS file (also what the snapshot evaluates), found from `src/` or `dist/`.
const { compileModel } = createRequire(import.meta.url)(
  "../dist/compile-model.cjs",
) as typeof import("./compile-model.cjs");

const PACKAGES = ["core", "ops", "sharding", "serving"] as const;

/** Each `@shardcost/*` package's built entry point and declarations, by package name. */
export type PackageEntries = Record<string, { js: string; dts: string }>;

/** Where each `@shardcost/*` package's built entry point and declarations are. */
export function packageEntries(): PackageEntries {
  const out: PackageEntries = {};
  for (const p of PACKAGES) {
    const js = fileURLToPath(import.meta.resolve(`@shardcost/${p}`));
    const dts = js.endsWith(".ts") ? js : js.replace(/\.js$/, ".d.ts");
    out[`@shardcost/${p}`] = { js, dts };
  }
  return out;
}

/** Emitted JavaScript to import, and a folder to remove afterwards when it is not cached. */
export interface Emitted {
  readonly file: string;
  readonly temporary: string | undefined;
}

/** A compile remembered: the user's source files with their hashes, and the emitted entry. */
interface Manifest {
  readonly sources: readonly { readonly path: string; readonly sha: string }[];
  readonly entry: string;
}

const sha = (text: string | Buffer) => createHash("sha256").update(text).digest("hex");

/**
 * Where emitted model files are kept between runs: `SHARDCOST_CACHE_DIR`, else the OS cache
 * folder (`$XDG_CACHE_HOME` or `~/.cache`, `~/Library/Caches` on macOS, `%LOCALAPPDATA%` on
 * Windows) under `shardcost/`. Safe to delete at any time; `SHARDCOST_CACHE_DIR=off` turns the
 * cache off. Undefined when it cannot be written.
 */
export function cacheDir(): string | undefined {
  const env = process.env;
  if (env.SHARDCOST_CACHE_DIR === "off") return undefined;
  const base =
    env.SHARDCOST_CACHE_DIR ??
    join(
      env.XDG_CACHE_HOME ??
        (process.platform === "win32"
          ? (env.LOCALAPPDATA ?? join(homedir(), "AppData", "Local"))
          : process.platform === "darwin"
            ? join(homedir(), "Library", "Caches")
            : join(homedir(), ".cache")),
      "shardcost",
    );
  try {
    mkdirSync(join(base, "manifests"), { recursive: true });
    mkdirSync(join(base, "out"), { recursive: true });
    return base;
  } catch {
    return undefined;
  }
}

/**
 * What the emitted JavaScript and its type check depend on besides the user's files: the
 * compiler's version, and each library package's version, built entry and the latest change to
 * its built declarations (a rebuilt library type-checks a model afresh).
 */
function libraryStamp(entries: PackageEntries): string {
  const parts: string[] = [`typescript ${typescriptVersion()}`, process.version];
  for (const [name, e] of Object.entries(entries)) {
    let latest = 0;
    const folder = dirname(e.dts);
    for (const f of readdirSync(folder)) {
      if (f.endsWith(".d.ts") || f.endsWith(".js")) {
        latest = Math.max(latest, statSync(join(folder, f)).mtimeMs);
      }
    }
    parts.push(`${name} ${e.js} ${latest}`);
  }
  return sha(parts.join("\n"));
}

/** The cached entry when every source the manifest lists is unchanged, else undefined. */
function cachedEntry(manifestFile: string): Emitted | undefined {
  try {
    const m = JSON.parse(readFileSync(manifestFile, "utf8")) as Manifest;
    for (const s of m.sources) if (sha(readFileSync(s.path)) !== s.sha) return undefined;
    return existsSync(m.entry) ? { file: m.entry, temporary: undefined } : undefined;
  } catch {
    return undefined;
  }
}

/** Outputs kept in the cache: the oldest beyond this many are removed when one is added. */
const CACHE_ENTRIES = 64;

/** A model file looked up in the cache: its emitted entry if cached, else what a compile needs. */
export interface CompilePlan {
  /** The model file, absolute. */
  readonly file: string;
  readonly entries: PackageEntries;
  readonly cache: string | undefined;
  readonly stamp: string;
  readonly manifestFile: string | undefined;
  readonly cached: Emitted | undefined;
}

/** Looks a model file (absolute) up in the cache. */
export function planCompile(file: string): CompilePlan {
  const entries = packageEntries();
  const cache = cacheDir();
  const stamp = libraryStamp(entries);
  const manifestFile = cache
    ? join(cache, "manifests", `${sha(`${stamp}\0${file}`)}.json`)
    : undefined;
  const cached = manifestFile ? cachedEntry(manifestFile) : undefined;
  return { file, entries, cache, stamp, manifestFile, cached };
}

/**
 * A new folder for one compile's output: in the cache when there is one, else in `tmp` (the
 * folder the CLI's main thread removes however the run ends) or the OS's temporary folder.
 */
export function outFolder(plan: CompilePlan, tmp: string | undefined): string {
  const parent = plan.cache ? join(plan.cache, "out") : (tmp ?? tmpdir());
  return mkdtempSync(join(parent, "shardcost-model-"));
}

const requestOf = (plan: CompilePlan, out: string): CompileRequest => ({
  file: plan.file,
  out,
  entries: plan.entries,
});

/**
 * Type-checks and emits a model file into `out`: in a Node started from the compiler's snapshot
 * when one was built for this Node and compiler (see `snapshot.ts`), else in this thread.
 */
export async function compileNow(plan: CompilePlan, out: string): Promise<CompileResult> {
  const request = requestOf(plan, out);
  const result = await startInSnapshot(request)?.result;
  if (result !== undefined) return result;
  // The compiler is large: loaded only on a cache miss (see `loadTypeScript`).
  const { ts, saveCodeCache } = loadTypeScript(plan.cache);
  const inProcess = compileModel(ts, request);
  saveCodeCache();
  return inProcess;
}

/**
 * A model file looked up in the cache by the CLI's main thread, and when the cache does not hold
 * it and a snapshot is usable, its compile started there (beside the worker's start-up).
 */
export interface PreparedCompile {
  readonly plan: CompilePlan;
  readonly compile?: {
    /** Where it emits. */
    readonly out: string;
    /** Its result; undefined when the snapshot's run failed (then compile with `compileNow`). */
    readonly result: Promise<CompileResult | undefined>;
    /** Stops it if it is still running. */
    cancel(): void;
  };
}

/**
 * Looks a model file (absolute) up in the cache and starts its compile when needed; undefined
 * for a file the loader will reject (it then says why).
 */
export function prepareCompile(file: string, tmp: string): PreparedCompile | undefined {
  try {
    if (!/\.(m?ts|tsx)$/.test(file) || !statSync(file).isFile()) return undefined;
    const plan = planCompile(file);
    if (plan.cached) return { plan };
    const out = outFolder(plan, tmp);
    const started = startInSnapshot(requestOf(plan, out));
    if (started === undefined) {
      rmSync(out, { recursive: true, force: true });
      return { plan };
    }
    return { plan, compile: { out, ...started } };
  } catch {
    return undefined;
  }
}

/** Records an emitted compile in the cache (when there is one) and says what to import. */
export function keepCompile(
  plan: CompilePlan,
  out: string,
  result: Extract<CompileResult, { kind: "emitted" }>,
): Emitted {
  const { cache, manifestFile, stamp } = plan;
  if (!cache || !manifestFile) return { file: result.entry, temporary: out };
  // Remember the user's own files (not the library's declarations) and what they emitted.
  const sources = result.sources.map((f) => ({ path: f, sha: sha(readFileSync(f)) }));
  const manifest: Manifest = { sources, entry: result.entry };
  const temp = `${manifestFile}.${process.pid}.${Date.now()}`;
  writeFileSync(temp, JSON.stringify({ ...manifest, stamp }));
  renameSync(temp, manifestFile);
  pruneCache(join(cache, "out"));
  return { file: result.entry, temporary: undefined };
}

/**
 * The TypeScript compiler, as CommonJS (several times faster to load than through `import()`).
 * With a cache folder, V8's compiled code for it is kept there too (`v8/`), so a later run
 * skips most of compiling the compiler; `saveCodeCache` writes it once a compile has run
 * (then it holds the functions that compile used).
 */
function loadTypeScript(cache: string | undefined): {
  ts: typeof import("typescript");
  saveCodeCache: () => void;
} {
  const require = createRequire(import.meta.url);
  if (!cache) {
    return { ts: require("typescript") as typeof import("typescript"), saveCodeCache() {} };
  }
  const file = require.resolve("typescript");
  const codeCache = join(
    cache,
    "v8",
    `typescript-${typescriptVersion()}-${process.version}-${process.arch}.bin`,
  );
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(codeCache);
  } catch {
    cachedData = undefined;
  }
  const wrapper = `(function (exports, require, module, __filename, __dirname) {${readFileSync(file, "utf8")}\n})`;
  const script = new Script(wrapper, { filename: file, ...(cachedData ? { cachedData } : {}) });
  const mod = { exports: {} as typeof import("typescript") };
  (script.runInThisContext() as (...args: unknown[]) => void)(
    mod.exports,
    createRequire(file),
    mod,
    file,
    dirname(file),
  );
  const fresh = cachedData === undefined || script.cachedDataRejected === true;
  return {
    ts: mod.exports,
    saveCodeCache() {
      if (!fresh) return;
      try {
        mkdirSync(dirname(codeCache), { recursive: true });
        const temp = `${codeCache}.${process.pid}`;
        writeFileSync(temp, script.createCachedData());
        renameSync(temp, codeCache);
      } catch {
        // A cache that cannot be written only costs the next run its speed.
      }
    },
  };
}

/** Removes the oldest emitted outputs beyond `CACHE_ENTRIES` (a manifest naming one is a miss). */
function pruneCache(outs: string): void {
  try {
    const dirs = readdirSync(outs)
      .map((d) => ({ d, t: statSync(join(outs, d)).mtimeMs }))
      .sort((x, y) => y.t - x.t);
    for (const { d } of dirs.slice(CACHE_ENTRIES)) {
      rmSync(join(outs, d), { recursive: true, force: true });
    }
  } catch {
    // Another run pruning at the same time: nothing to do.
  }
}

/** What the CLI's main thread hands its worker: the plan, and where its compile emits. */
export interface Handoff {
  readonly plan: CompilePlan;
  readonly out?: string;
}

/** A handoff as the worker holds it, with the compile's result when one was started. */
export interface Handed extends Handoff {
  readonly result?: Promise<CompileResult | undefined>;
}

let handed: Handed | undefined;

/**
 * Takes what the CLI's main thread prepared (`prepareCompile`): the cache lookup, and a started
 * compile's result, which it posts to this worker as `{ compiled: result }` once it ends.
 */
export function expectCompile(
  handoff: Handoff,
  port: { once(event: "message", listener: (m: unknown) => void): unknown },
): void {
  if (handoff.out === undefined) {
    handed = handoff;
    return;
  }
  const result = new Promise<CompileResult | undefined>((done) => {
    port.once("message", (m) => done((m as { compiled?: CompileResult }).compiled));
  });
  handed = { ...handoff, result };
}

/** What was handed over for this model file (absolute), if anything; taken once. */
export function handedCompile(file: string): Handed | undefined {
  if (handed?.plan.file !== file) return undefined;
  const h = handed;
  handed = undefined;
  return h;
}
