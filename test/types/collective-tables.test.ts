/**
 * Collectives are a closed sub-enum with total tables: adding one to `Primitive` and to
 * `CollectivePrimitive` without filling its tables must fail to type-check, in every table a
 * collective needs. The whole library is type-checked twice in memory — as it is (no errors: the
 * control) and with a new `Broadcast` collective added to the two declarations only — and the
 * second run must report an error in each table's file.
 */
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const PRIMITIVES = join(root, "packages/core/src/primitives.ts");
const COLLECTIVES = join(root, "packages/core/src/collectives.ts");

function options(): ts.CompilerOptions {
  const config = ts.readConfigFile(join(root, "tsconfig.base.json"), ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, root);
  return {
    ...parsed.options,
    noEmit: true,
    composite: false,
    declaration: false,
    declarationMap: false,
    sourceMap: false,
    incremental: false,
  };
}

/** Files (relative to the repo) with type errors when `overlay` replaces some sources. */
function errorsWith(overlay: ReadonlyMap<string, string>, old?: ts.Program) {
  const opts = options();
  const host = ts.createCompilerHost(opts);
  const read = host.readFile.bind(host);
  host.readFile = (f) => overlay.get(resolve(f)) ?? read(f);
  const getSource = host.getSourceFile.bind(host);
  host.getSourceFile = (f, lang, onError, fresh) => {
    const text = overlay.get(resolve(f));
    return text === undefined
      ? getSource(f, lang, onError, fresh)
      : ts.createSourceFile(f, text, lang, true);
  };
  const roots = ["sharding", "serving", "cli"].map((p) => join(root, `packages/${p}/src/index.ts`));
  const program = ts.createProgram({ rootNames: roots, options: opts, host, oldProgram: old });
  const files = new Set<string>();
  for (const d of ts.getPreEmitDiagnostics(program)) {
    if (d.file) files.add(d.file.fileName.slice(root.length + 1));
    else files.add(ts.flattenDiagnosticMessageText(d.messageText, "\n"));
  }
  return { files, program };
}

describe("collective tables are total", () => {
  it("a collective added to the enum without its tables fails to type-check in each table", () => {
    const control = errorsWith(new Map());
    expect([...control.files]).toEqual([]);

    const primitives = readFileSync(PRIMITIVES, "utf8");
    const collectives = readFileSync(COLLECTIVES, "utf8");
    const anchor = '  AllToAll = "all_to_all",\n';
    const union = "  | Primitive.AllToAll;";
    expect(primitives).toContain(anchor);
    expect(collectives).toContain(union);
    const overlay = new Map([
      [
        PRIMITIVES,
        primitives.replace(
          anchor,
          `${anchor}  /** Collective: one device's block to all. */\n  Broadcast = "broadcast",\n`,
        ),
      ],
      [COLLECTIVES, collectives.replace(union, `${union.slice(0, -1)}\n  | Primitive.Broadcast;`)],
    ] as [string, string][]);
    const { files } = errorsWith(overlay, control.program);
    // The tables a collective needs, each in its own file.
    const tables = {
      "printed name and report kind": "packages/core/src/collectives.ts",
      "params and fusion kind": "packages/core/src/primitives.ts",
      "dtype passes through (storage retyping)": "packages/core/src/retype.ts",
      "params shared by the ops (remembered rule results)": "packages/core/src/op-memo.ts",
      shape: "packages/core/src/shape-rules.ts",
      "cost (FLOPs and HBM bytes)": "packages/core/src/cost-rules.ts",
      numeric: "packages/core/src/numeric-rules.ts",
      "printed params": "packages/core/src/printer.ts",
      "sharding rule": "packages/sharding/src/rules.ts",
      "bytes sent, hops, routing": "packages/sharding/src/collective-cost.ts",
      "simulator step": "packages/sharding/src/simulate.ts",
    };
    for (const [what, file] of Object.entries(tables)) {
      expect(files, `${what}: ${file}`).toContain(file);
    }
  }, 120_000);
});
