/** Where in the user's code an equation was traced. */
export interface SourceLocation {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

// Frames in the library's own packages (here or installed) are not the user's, except in the
// folders a package registers as model code (`registerModelCode`): built-in model definitions are
// model code like a user's own file, shown package-relative so a report reads the same wherever
// it runs. Other dependencies and Node's internals are skipped too.
const PACKAGE_FILE =
  /[\\/](?:packages|node_modules[\\/]@shardcost)[\\/]([a-z]+)[\\/](src|dist)[\\/](.*)$/;
const DEPENDENCY = /[\\/]node_modules[\\/]/;
const NODE_INTERNAL = /^at (node:|.*\(node:)/;
const FRAME = /\(?((?:file:\/\/)?[^\s()]+):(\d+):(\d+)\)?\s*$/;

/** Folders of the library's packages that hold model code, by package name. */
const modelCode = new Map<string, string[]>();

/**
 * Declares `folder` (e.g. `models/`) of the library's package `pkg` (e.g. `ops`) as model code:
 * source lines there are reported, as `@shardcost/<pkg>/src/<folder>/file.ts:142`. A package
 * that defines models calls it once when it loads.
 */
export function registerModelCode(pkg: string, folder: string): void {
  const folders = modelCode.get(pkg) ?? [];
  if (!folders.includes(folder)) folders.push(folder);
  modelCode.set(pkg, folders);
}

/**
 * A captured call stack, formatted only when a location is asked for: V8 captures frames
 * cheaply and defers the string work until `.stack` is read.
 */
const resolved = new WeakMap<Error, SourceLocation | null>();

/**
 * A call stack captured when an op was traced, resolved to the user's line only when asked
 * (`location`).
 */
export class StackCapture {
  private readonly error: Error;
  constructor() {
    // The user's frame sits above the library's own (nested composites, bind): 16 is ample.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 16;
    this.error = new Error();
    Error.stackTraceLimit = limit;
  }
  get location(): SourceLocation | undefined {
    let loc = resolved.get(this.error);
    if (loc === undefined) {
      loc = userFrame(this.error.stack ?? "") ?? null;
      resolved.set(this.error, loc);
    }
    return loc ?? undefined;
  }
}

/**
 * Maps a position in generated JavaScript (1-based line and column) to its source, or undefined
 * when the file has no source map. A host that can read files installs one (`setFrameMapper`).
 */
export type FrameMapper = (
  file: string,
  line: number,
  column: number,
) => SourceLocation | undefined;

let frameMapper: FrameMapper | undefined;

/**
 * Maps the user's frames (and built-in models') through source maps: the CLI installs one that
 * reads a built file's `.map` when one of its lines is first reported, instead of the runtime
 * mapping every stack (which reads the source map of every module as it loads).
 */
export function setFrameMapper(mapper: FrameMapper | undefined): void {
  frameMapper = mapper;
}

/** A frame's position, through the installed source-map mapper when it knows the file. */
function mapped(file: string, line: number, column: number): SourceLocation {
  const source = frameMapper && file.endsWith(".js") ? frameMapper(file, line, column) : undefined;
  return source ?? { file, line, column };
}

/**
 * The first frame of a stack that is the user's code (or a built-in model's), as a file, line and
 * column.
 */
export function userFrame(stack: string): SourceLocation | undefined {
  const lines = stack.split("\n").slice(1);
  for (const raw of lines) {
    const line = raw.trim();
    if (!line.startsWith("at ") || NODE_INTERNAL.test(line)) continue;
    const m = FRAME.exec(line);
    if (!m) continue;
    const path = decodeURI(m[1]!.replace(/^file:\/\//, ""));
    const inPackage = PACKAGE_FILE.exec(path);
    if (inPackage) {
      // A built file's folders mirror its sources': model code is told apart before mapping.
      const folders = modelCode.get(inPackage[1]!) ?? [];
      if (!folders.some((f) => inPackage[3]!.startsWith(f))) continue;
    } else if (DEPENDENCY.test(path)) continue;
    const at = mapped(path, Number(m[2]), Number(m[3]));
    const own = PACKAGE_FILE.exec(at.file);
    if (own) return { ...at, file: `@shardcost/${own[1]}/${own[2]}/${own[3]}` };
    return { ...at, file: shortPath(at.file) };
  }
  return undefined;
}

/** A path relative to the working directory (`../models/m.ts` too), so output is portable. */
function shortPath(file: string): string {
  const cwd = typeof process !== "undefined" ? process.cwd() : "";
  if (!cwd || !file.startsWith("/") || !cwd.startsWith("/")) return file;
  const from = cwd.split("/").filter(Boolean);
  const to = file.split("/").filter(Boolean);
  let common = 0;
  while (common < from.length && common < to.length - 1 && from[common] === to[common]) common++;
  if (common === 0) return file;
  return [...Array(from.length - common).fill(".."), ...to.slice(common)].join("/");
}

/** The user's line that called into the library: for errors raised outside a trace's bind. */
export function callerLocation(): SourceLocation | undefined {
  return new StackCapture().location;
}

/** `file:line`, or `?` when unknown. */
export function formatLocation(loc: SourceLocation | undefined): string {
  return loc ? `${loc.file}:${loc.line}` : "?";
}

let depth = 0;
let active: StackCapture | undefined;

/**
 * The source of the op being traced. Inside a composite, the first primitive it binds captures
 * the stack and the rest share that capture.
 */
export function captureSource(): StackCapture {
  if (depth === 0) return new StackCapture();
  active ??= new StackCapture();
  return active;
}

/**
 * Wraps a composite op so that every primitive it binds shares one capture of the user's call
 * site: one stack walk per user-level call instead of one per equation.
 */
export function composite<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
  return (...args: A): R => {
    depth++;
    try {
      return fn(...args);
    } finally {
      if (--depth === 0) active = undefined;
    }
  };
}
