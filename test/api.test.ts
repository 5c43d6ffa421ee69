/**
 * The public API is deliberate: every package lists its exports by name (no `export *`), and
 * every exported name carries a leading doc comment (what `npm run docs` renders). Core names
 * no package above it.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const PACKAGES = ["core", "ops", "sharding", "serving", "cli"];
const ENTRIES = [
  ...PACKAGES.map((p) => `packages/${p}/src/index.ts`),
  "packages/sharding/src/testing.ts",
];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sources(join(dir, e.name))
      : e.name.endsWith(".ts")
        ? [join(dir, e.name)]
        : [],
  );
}

describe("public API", () => {
  it("no package re-exports a module wholesale", () => {
    const wholesale = PACKAGES.flatMap((p) => sources(join(root, `packages/${p}/src`)))
      .filter((f) => /^export \*/m.test(readFileSync(f, "utf8")))
      .map((f) => f.slice(root.length + 1));
    expect(wholesale).toEqual([]);
  });

  it("every exported name has a doc comment", () => {
    const config = ts.readConfigFile(join(root, "tsconfig.base.json"), ts.sys.readFile);
    const options = ts.parseJsonConfigFileContent(config.config, ts.sys, root).options;
    const program = ts.createProgram(
      ENTRIES.map((e) => join(root, e)),
      { ...options, noEmit: true, composite: false },
    );
    const checker = program.getTypeChecker();
    const undocumented: string[] = [];
    let checked = 0;
    for (const entry of ENTRIES) {
      const file = program.getSourceFile(join(root, entry))!;
      const module = checker.getSymbolAtLocation(file)!;
      for (const exported of checker.getExportsOfModule(module)) {
        const symbol =
          exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
        checked++;
        if (symbol.getDocumentationComment(checker).length === 0) {
          const where = symbol.declarations?.[0]?.getSourceFile().fileName.slice(root.length + 1);
          undocumented.push(`${exported.name} (${where})`);
        }
      }
    }
    expect(checked).toBeGreaterThan(250);
    expect(undocumented).toEqual([]);
  }, 60_000);

  it("the API docs build from the doc comments, warnings as errors (`npm run docs`)", () => {
    const typedoc = join(root, "node_modules/typedoc/bin/typedoc");
    const run = spawnSync(process.execPath, [typedoc, "--emit", "none"], {
      cwd: root,
      encoding: "utf8",
    });
    expect(`${run.stdout}${run.stderr}`).not.toMatch(/\[warning\]|\[error\]/);
    expect(run.status).toBe(0);
  }, 120_000);

  it("core names no package above it", () => {
    const above = /@shardcost\/(ops|sharding|serving|cli)\b/;
    const naming = sources(join(root, "packages/core/src"))
      .filter((f) => above.test(readFileSync(f, "utf8")))
      .map((f) => f.slice(root.length + 1));
    expect(naming).toEqual([]);
  });
});
