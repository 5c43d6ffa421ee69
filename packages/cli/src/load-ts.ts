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
import { dirname, join, parse, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Script } from "node:vm";
import { workerData } from "node:worker_threads";
import { isModel, ShardcostError } from "@shardcost/core";

/** What a model file exports: the forward function, its inputs in notation, and dim sizes. */
export interface ModelModule {
  readonly path: string;
  readonly fn: (inputs: never) => unknown;
  readonly inputs: object;
  readonly dims: Readonly<Record<string, number>>;
  /** Tokens one call processes, for tokens/s (default: dims B × T, or B, or 1). */
  readonly tokensPerStep: number | undefined;
  /** Inputs whose shardings `search` may choose (`export const roles = ["w1", "w2"]`). */
  readonly roles: readonly string[] | undefined;
}

const PACKAGES = ["core", "ops", "sharding", "serving"] as const;

/** Where each `@shardcost/*` package's built entry point and declarations are. */
export function packageEntries(): Record<string, { js: string; dts: string }> {
  const out: Record<string, { js: string; dts: string }> = {};
  for (const p of PACKAGES) {
    const js = fileURLToPath(import.meta.resolve(`@shardcost/${p}`));
    const dts = js.endsWith(".ts") ? js : js.replace(/\.js$/, ".d.ts");
    out[`@shardcost/${p}`] = { js, dts };
  }
  return out;
}

const display = (file: string) => {
  const rel = relative(process.cwd(), file);
  return rel.startsWith("..") ? file : rel;
};

const CONSOLE_DECLARATION = `declare var console: {
  log(...data: unknown[]): void;
  info(...data: unknown[]): void;
  warn(...data: unknown[]): void;
  error(...data: unknown[]): void;
  debug(...data: unknown[]): void;
  table(data: unknown): void;
};
`;

/** What to do when a declared input is used where a tracer is expected. */
export const SPEC_HINT =
  "hint: the forward function receives a Tracer for every declared tensor(), not the spec. " +
  'Type its argument `Traced<typeof inputs>` (import { type Traced } from "@shardcost/core"), ' +
  "or write `export default model({ inputs, dims }, (t) => …)` and TypeScript infers it.";

/**
 * Type-checks a model file with the TypeScript compiler (strict), reporting every error as
 * `file:line:col message`, then emits it with an inline source map and imports it, so stack
 * frames — and the per-op rows of every report — point at lines of the `.ts` file. The emitted
 * JavaScript is cached (`cacheDir`) by the content of the file and of every file it imports:
 * an unchanged model is imported without running the compiler.
 */
export async function loadModelFile(path: string): Promise<ModelModule> {
  const file = resolve(path);
  if (!existsSync(file)) throw new ShardcostError("input", `model file ${path} not found`);
  if (!statSync(file).isFile()) {
    throw new ShardcostError("input", `model file ${path} is a directory, not a file`);
  }
  if (/\.cts$/.test(file)) {
    throw new ShardcostError(
      "input",
      `model file ${path}: a CommonJS (.cts) module; write the model as an ES module (.ts or .mts)`,
    );
  }
  if (!/\.(m?ts|tsx)$/.test(file)) {
    throw new ShardcostError("input", `model file ${path}: expected a TypeScript (.ts) module`);
  }
  const entries = packageEntries();
  const cache = cacheDir();
  const stamp = libraryStamp(entries);
  const manifestFile = cache
    ? join(cache, "manifests", `${sha(`${stamp}\0${file}`)}.json`)
    : undefined;
  const cached = manifestFile ? cachedEntry(manifestFile) : undefined;
  const entry = cached ?? compileModelFile(path, file, entries, stamp, cache, manifestFile);
  process.setSourceMapsEnabled(true);
  let mod: Record<string, unknown>;
  // The library the file imports is the built one: record where its inputs are declared.
  const core = (await import(pathToFileURL(entries["@shardcost/core"]!.js).href)) as {
    recordDeclarationSites: (on: boolean) => void;
  };
  core.recordDeclarationSites(true);
  try {
    mod = (await import(pathToFileURL(entry.file).href)) as Record<string, unknown>;
  } finally {
    core.recordDeclarationSites(false);
    if (entry.temporary) rmSync(entry.temporary, { recursive: true, force: true });
  }
  return checkExports(path, mod);
}

/** Emitted JavaScript to import, and a folder to remove afterwards when it is not cached. */
interface Emitted {
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
function libraryStamp(entries: Record<string, { js: string; dts: string }>): string {
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

function typescriptVersion(): string {
  const require = createRequire(import.meta.url);
  return (require("typescript/package.json") as { version: string }).version;
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

/**
 * Type-checks a model file with the TypeScript compiler (strict) and emits it with an inline
 * source map — into the cache when there is one (recording its sources in `manifestFile`), else
 * into a temporary folder.
 */
function compileModelFile(
  path: string,
  file: string,
  entries: Record<string, { js: string; dts: string }>,
  stamp: string,
  cache: string | undefined,
  manifestFile: string | undefined,
): Emitted {
  // The compiler is large: loaded only on a cache miss (see `loadTypeScript`).
  const { ts, saveCodeCache } = loadTypeScript(cache);
  // The output mirrors the file system from its root, so `../` imports keep their places.
  const root = parse(file).root;
  // Under the CLI's worker, inside the folder its parent removes however the run ends.
  const parent = cache
    ? join(cache, "out")
    : ((workerData as { tmp?: string } | null)?.tmp ?? tmpdir());
  const out = mkdtempSync(join(parent, "shardcost-model-"));
  const options: import("typescript").CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ["lib.es2023.d.ts"],
    strict: true,
    skipLibCheck: true,
    types: [],
    rootDir: root,
    outDir: out,
    inlineSourceMap: true,
    inlineSources: true,
    noEmitOnError: true,
    // `./layers.ts` and `./layers.js` imports both work; see the rewrite below for `./layers`.
    rewriteRelativeImportExtensions: true,
    paths: Object.fromEntries(Object.entries(entries).map(([name, e]) => [name, [e.dts]])),
  };
  // A model file may log: `console` is declared for it (the strict lib has none).
  const globals = join(out, "shardcost-globals.d.ts");
  writeFileSync(globals, CONSOLE_DECLARATION);
  const program = ts.createProgram({ rootNames: [file, globals], options });
  const errors = ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (errors.length > 0) {
    rmSync(out, { recursive: true, force: true });
    const texts = errors.map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
    const lines = errors.map((d, i) => {
      if (!d.file || d.start === undefined) return texts[i];
      const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
      return `${display(d.file.fileName)}:${line + 1}:${character + 1} ${texts[i]}`;
    });
    // A function typed `(t: typeof inputs)` receives tracers, not the declared specs.
    const specForTracer = texts.some((t) => /TensorSpec/.test(t) && /Tracer/.test(t));
    const hint = specForTracer ? `\n${SPEC_HINT}` : "";
    throw new ShardcostError(
      "input",
      `model file ${path} does not type-check (${errors.length} error${errors.length > 1 ? "s" : ""}):\n${lines.join("\n")}${hint}`,
    );
  }
  // Emit the user's files; imports of the library point at its built entry points.
  const specifier = /(\bfrom\s*|\bimport\s*\(?\s*)(["'])(@shardcost\/[a-z-]+)\2/g;
  const relative_ = /(\bfrom\s*|\bimport\s*\(?\s*)(["'])(\.\.?\/(?:[^"'/]+\/)*[^"'./]+)\2/g;
  let entry: string | undefined;
  program.emit(undefined, (name, text) => {
    if (!/\.m?js$/.test(name)) return;
    const rewritten = text
      .replace(specifier, (m, lead: string, q: string, spec: string) => {
        const target = entries[spec];
        return target ? `${lead}${q}${pathToFileURL(target.js).href}${q}` : m;
      })
      // A relative import without an extension (bundler style) names the emitted .js file.
      .replace(
        relative_,
        (_m, lead: string, q: string, spec: string) => `${lead}${q}${spec}.js${q}`,
      );
    mkdirSync(dirname(name), { recursive: true });
    writeFileSync(name, rewritten);
    const source = resolve(root, relative(out, name)).replace(/\.m?js$/, "");
    if (file.replace(/\.(m?ts|tsx)$/, "") === source) entry = name;
  });
  if (!entry) {
    rmSync(out, { recursive: true, force: true });
    throw new ShardcostError("input", `model file ${path} produced no JavaScript`);
  }
  saveCodeCache();
  if (!cache || !manifestFile) return { file: entry, temporary: out };
  // Remember the user's own files (not the library's declarations) and what they emitted.
  const sources = program
    .getSourceFiles()
    .filter((f) => !f.isDeclarationFile && !f.fileName.startsWith(out))
    .map((f) => ({ path: resolve(f.fileName), sha: sha(readFileSync(f.fileName)) }));
  const manifest: Manifest = { sources, entry };
  const temp = `${manifestFile}.${process.pid}.${Date.now()}`;
  writeFileSync(temp, JSON.stringify({ ...manifest, stamp }));
  renameSync(temp, manifestFile);
  pruneCache(join(cache, "out"));
  return { file: entry, temporary: undefined };
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

function checkExports(path: string, mod: Record<string, unknown>): ModelModule {
  const fail = (what: string): never => {
    throw new ShardcostError(
      "input",
      `model file ${path}: ${what}. A model file exports \`default\` (the forward function), ` +
        '`inputs` (tensors in notation, e.g. tensor("x[B, D_X]")) and `dims` (sizes, e.g. { B: 8, D: 4096 }), ' +
        "or `export default model({ inputs, dims }, (t) => …)`",
    );
  };
  // `export default model({ inputs, dims }, fn)` carries all three; otherwise named exports.
  const bundled = isModel(mod.default) ? mod.default : undefined;
  const fn = bundled ? bundled.fn : mod.default;
  if (typeof fn !== "function") fail("no default export function or model()");
  const inputs = bundled ? bundled.inputs : mod.inputs;
  if (typeof inputs !== "object" || inputs === null) fail("no `inputs` object exported");
  const dims = bundled ? bundled.dims : mod.dims;
  if (typeof dims !== "object" || dims === null) fail("no `dims` object exported");
  for (const [k, v] of Object.entries(dims as object)) {
    if (!Number.isSafeInteger(v) || (v as number) < 1) {
      fail(`dims.${k} is ${JSON.stringify(v)}, not a positive integer`);
    }
  }
  const tokens = bundled ? bundled.tokensPerStep : mod.tokensPerStep;
  if (tokens !== undefined && (!Number.isFinite(tokens) || (tokens as number) <= 0)) {
    fail("`tokensPerStep` must be a positive number");
  }
  const roles = bundled ? bundled.roles : mod.roles;
  if (roles !== undefined) {
    if (!Array.isArray(roles) || !roles.every((r) => typeof r === "string")) {
      fail('`roles` must be a list of input names, e.g. ["w1", "w2"]');
    }
    for (const r of roles as string[]) {
      const spec = (inputs as Record<string, unknown>)[r];
      if (
        typeof spec !== "object" ||
        spec === null ||
        (spec as { kind?: unknown }).kind !== "tensor-spec"
      ) {
        fail(
          `roles names ${JSON.stringify(r)}, which is not a tensor of \`inputs\` ` +
            `(its tensors: ${Object.keys(inputs as object).join(", ")})`,
        );
      }
    }
  }
  return {
    path,
    roles: roles as string[] | undefined,
    fn: fn as ModelModule["fn"],
    inputs: inputs as object,
    dims: dims as Record<string, number>,
    tokensPerStep: tokens as number | undefined,
  };
}
