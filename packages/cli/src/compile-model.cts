// Type-checking and emitting a model file, given the TypeScript compiler. CommonJS with only
// Node's own modules, so the same code runs in the CLI and inside the compiler's start-up
// snapshot (`compiler-snapshot.cts`), where nothing else can be loaded.
import fs = require("node:fs");
import nodePath = require("node:path");
import url = require("node:url");

import type * as TS from "typescript";

type CompileRequest = CompileModel.CompileRequest;
type CompileResult = CompileModel.CompileResult;
type ParsedFiles = CompileModel.ParsedFiles;

/** A model file may log: `console` is declared for it (the strict lib has none). */
const CONSOLE_DECLARATION = `declare var console: {
  log(...data: unknown[]): void;
  info(...data: unknown[]): void;
  warn(...data: unknown[]): void;
  error(...data: unknown[]): void;
  debug(...data: unknown[]): void;
  table(data: unknown): void;
};
`;

/** The compiler options a model file is checked and emitted with (strict, ES2022 modules). */
function modelCompilerOptions(
  ts: typeof TS,
  root: string,
  out: string,
  entries: CompileRequest["entries"],
): TS.CompilerOptions {
  return {
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
}

/** A compiler host that takes a file already parsed when its text has not changed. */
function reusingHost(
  ts: typeof TS,
  options: TS.CompilerOptions,
  parsed: ParsedFiles | undefined,
): TS.CompilerHost {
  const host = ts.createCompilerHost(options);
  if (!parsed || parsed.size === 0) return host;
  const parse = host.getSourceFile;
  host.getSourceFile = (fileName, version, onError, shouldCreate) => {
    const known = parsed.get(fileName);
    if (known !== undefined && host.readFile(fileName) === known.text) return known;
    return parse(fileName, version, onError, shouldCreate);
  };
  return host;
}

const display = (file: string) => {
  const rel = nodePath.relative(process.cwd(), file);
  return rel.startsWith("..") ? file : rel;
};

/**
 * Type-checks a model file (strict) and, when it has no errors, emits it and every user file
 * it imports into `out` with inline source maps; imports of the library are rewritten to its
 * built entry points, and relative imports without an extension to the emitted `.js` file.
 */
function compileModel(ts: typeof TS, request: CompileRequest, parsed?: ParsedFiles): CompileResult {
  const { file, out, entries } = request;
  // The output mirrors the file system from its root, so `../` imports keep their places.
  const root = nodePath.parse(file).root;
  const options = modelCompilerOptions(ts, root, out, entries);
  const globals = nodePath.join(out, "shardcost-globals.d.ts");
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(globals, CONSOLE_DECLARATION);
  const host = reusingHost(ts, options, parsed);
  const program = ts.createProgram({ rootNames: [file, globals], options, host });
  const errors = ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (errors.length > 0) {
    const texts = errors.map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
    const lines = errors.map((d, i) => {
      if (!d.file || d.start === undefined) return texts[i]!;
      const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
      return `${display(d.file.fileName)}:${line + 1}:${character + 1} ${texts[i]}`;
    });
    const specForTracer = texts.some((t) => /TensorSpec/.test(t) && /Tracer/.test(t));
    return { kind: "errors", lines, specForTracer };
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
        return target ? `${lead}${q}${url.pathToFileURL(target.js).href}${q}` : m;
      })
      // A relative import without an extension (bundler style) names the emitted .js file.
      .replace(
        relative_,
        (_m, lead: string, q: string, spec: string) => `${lead}${q}${spec}.js${q}`,
      );
    fs.mkdirSync(nodePath.dirname(name), { recursive: true });
    fs.writeFileSync(name, rewritten);
    const source = nodePath.resolve(root, nodePath.relative(out, name)).replace(/\.m?js$/, "");
    if (file.replace(/\.(m?ts|tsx)$/, "") === source) entry = name;
  });
  if (!entry) return { kind: "empty" };
  // The user's own files (not the library's declarations), for the cache to watch.
  const sources = program
    .getSourceFiles()
    .filter((f) => !f.isDeclarationFile && !f.fileName.startsWith(out))
    .map((f) => nodePath.resolve(f.fileName));
  return { kind: "emitted", entry, sources };
}

// CommonJS exports (the types below are in the namespace the value merges with).
declare namespace CompileModel {
  /** What one compile of a model file needs: where it is, where its output goes, the library. */
  export interface CompileRequest {
    /** The model file, absolute. */
    readonly file: string;
    /** Folder the emitted JavaScript goes in (mirroring the file system from its root). */
    readonly out: string;
    /** Each `@shardcost/*` package's built entry point and declarations. */
    readonly entries: Readonly<Record<string, { readonly js: string; readonly dts: string }>>;
  }

  /** What a compile gave: the emitted entry and the user's files, or the type errors. */
  export type CompileResult =
    | { readonly kind: "emitted"; readonly entry: string; readonly sources: readonly string[] }
    | {
        readonly kind: "errors";
        /** `file:line:col message`, one per error (the file relative to the working folder). */
        readonly lines: readonly string[];
        /** A function typed with the declared specs where it receives tracers. */
        readonly specForTracer: boolean;
      }
    | { readonly kind: "empty" };

  /** What the snapshot's builder passes its entry (environment `SHARDCOST_SNAPSHOT_INPUT`). */
  export interface SnapshotInput {
    /** `typescript/lib/typescript.js`. */
    readonly typescript: string;
    /** This package's built `compile-model.cjs`. */
    readonly compileModel: string;
    readonly entries: CompileRequest["entries"];
  }

  /** Parsed files a compile may take instead of parsing them again (same name, same text). */
  export type ParsedFiles = ReadonlyMap<string, TS.SourceFile>;
}
const CompileModel = { compileModel, modelCompilerOptions, reusingHost };
export = CompileModel;
