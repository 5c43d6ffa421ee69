// The entry of the compiler's start-up snapshot (`node --build-snapshot`, run by
// `snapshot.ts`): the TypeScript compiler loaded, and the standard library's and the
// shardcost packages' declarations parsed and bound, so a model file's compile starts from
// them. Run from the snapshot, it reads one `CompileRequest` (JSON) on stdin and writes its
// `CompileResult` (JSON) on stdout. Only Node's own modules can be loaded while the snapshot is
// built: the compiler and `compile-model.cjs` are evaluated from their text, and this file
// runs inside a wrapper that defines `exports` and `module` (see `buildSnapshot`).
import fs = require("node:fs");
import nodePath = require("node:path");
import os = require("node:os");
import v8 = require("node:v8");

import type * as TS from "typescript";

type Api = typeof import("./compile-model.cjs");
type Input = import("./compile-model.cjs").SnapshotInput;
type Request = import("./compile-model.cjs").CompileRequest;
type Result = import("./compile-model.cjs").CompileResult;

/** Evaluates a CommonJS file from its text (the snapshot's `require` takes Node's modules only). */
function evaluate<T>(file: string): T {
  const module = { exports: {} as T };
  const fn = new Function(
    "exports",
    "require",
    "module",
    "__filename",
    "__dirname",
    fs.readFileSync(file, "utf8"),
  ) as (e: T, r: NodeJS.Require, m: { exports: T }, f: string, d: string) => void;
  fn(module.exports, require, module, file, nodePath.dirname(file));
  return module.exports;
}

const input = JSON.parse(process.env.SHARDCOST_SNAPSHOT_INPUT ?? "{}") as Input;
const ts = evaluate<typeof TS>(input.typescript);
const compile = evaluate<Api>(input.compileModel);

// Parse (and bind, through one check) what every model file's compile reads besides its own
// files: a file importing each package, compiled with the options model files get.
const scratch = fs.mkdtempSync(nodePath.join(os.tmpdir(), "shardcost-snapshot-"));
const warm = nodePath.join(scratch, "warm.ts");
fs.writeFileSync(
  warm,
  `${Object.keys(input.entries)
    .map((name, i) => `import * as p${i} from "${name}";\nexport { p${i} };`)
    .join("\n")}\nexport const squares = [1, 2, 3].map((n) => n * n);\n`,
);
const options = compile.modelCompilerOptions(
  ts,
  nodePath.parse(warm).root,
  nodePath.join(scratch, "out"),
  input.entries,
);
const program = ts.createProgram({
  rootNames: [warm],
  options,
  host: compile.reusingHost(ts, options, undefined),
});
ts.getPreEmitDiagnostics(program);
const parsed = new Map<string, TS.SourceFile>();
for (const f of program.getSourceFiles()) if (f.isDeclarationFile) parsed.set(f.fileName, f);
fs.rmSync(scratch, { recursive: true, force: true });

v8.startupSnapshot.setDeserializeMainFunction(() => {
  let result: Result | { readonly kind: "failed"; readonly message: string };
  try {
    const request = JSON.parse(fs.readFileSync(0, "utf8")) as Request;
    result = compile.compileModel(ts, request, parsed);
  } catch (e) {
    result = { kind: "failed", message: e instanceof Error ? e.message : String(e) };
  }
  fs.writeSync(1, JSON.stringify(result));
});
