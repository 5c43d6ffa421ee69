/**
 * A model file the cache does not hold is compiled in a Node started from the compiler's
 * snapshot (built by `npm ci`): it must give what the compiler gives in-process — the same
 * emitted JavaScript, the same errors — and a declaration that changed since the snapshot was
 * built must be read again, not taken from the snapshot.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as TS from "typescript";
import { describe, expect, it } from "vitest";
import type * as CompileModel from "../../packages/cli/src/compile-model.cjs";
import { startInSnapshot, usableSnapshot } from "../../packages/cli/src/snapshot.js";
import { BIN, ROOT, scratch } from "./run.js";

const require = createRequire(import.meta.url);
const ts = require("typescript") as typeof TS;
const { compileModel, reusingHost, modelCompilerOptions } =
  require("../../packages/cli/dist/compile-model.cjs") as typeof CompileModel;

const layers = `import { einsum, silu } from "@shardcost/ops";
import type { Tracer } from "@shardcost/core";
export function mlp(x: Tracer, w: Tracer) {
  return silu(einsum("BD,DF->BF", x, w));
}
`;
const model = (extra = "") => `import { model, tensor } from "@shardcost/core";
import { mlp } from "./layers";
const inputs = { x: tensor("x[B, D]", "bf16"), w: tensor("w[D, F_X]", "bf16") };
export default model({ inputs, dims: { B: 8, D: 256, F: 512 } }, (t) => ({ y: mlp(t.x, t.w) }));
${extra}`;

/** The built packages, as the bin sees them (under vitest, imports resolve to their sources). */
const entries = Object.fromEntries(
  ["core", "ops", "sharding", "serving"].map((p) => {
    const js = join(ROOT, "packages", p, "dist", "index.js");
    return [`@shardcost/${p}`, { js, dts: js.replace(/\.js$/, ".d.ts") }];
  }),
);

/** Both compiles of one file, each into its own folder (at the same depth, so maps agree). */
async function bothWays(file: string) {
  const viaSnapshot = await startInSnapshot({
    file,
    out: mkdtempSync(join(tmpdir(), "shardcost-a-")),
    entries,
  })?.result;
  const inProcess = compileModel(ts, {
    file,
    out: mkdtempSync(join(tmpdir(), "shardcost-b-")),
    entries,
  });
  return { viaSnapshot, inProcess };
}

describe("the compiler's snapshot", () => {
  it("is built by the install, for this Node and this compiler", () => {
    expect(
      usableSnapshot(),
      "no usable snapshot: `npm ci` builds it (or node packages/cli/bin/build-compiler-snapshot.js)",
    ).toBeDefined();
  });

  it("emits what the compiler emits in-process, for the file and its imports", async () => {
    const dir = scratch({ "model.ts": model(), "layers.ts": layers });
    const { viaSnapshot, inProcess } = await bothWays(join(dir, "model.ts"));
    expect(viaSnapshot?.kind).toBe("emitted");
    expect(inProcess.kind).toBe("emitted");
    if (viaSnapshot?.kind !== "emitted" || inProcess.kind !== "emitted") return;
    expect(viaSnapshot.sources).toEqual(inProcess.sources);
    expect(viaSnapshot.sources.map((s) => s.slice(dir.length))).toEqual([
      "/layers.ts",
      "/model.ts",
    ]);
    for (const name of ["model.js", "layers.js"]) {
      const a = readFileSync(viaSnapshot.entry.replace(/model\.js$/, name), "utf8");
      const b = readFileSync(inProcess.entry.replace(/model\.js$/, name), "utf8");
      expect(a).toBe(b);
      expect(a).toContain("sourceMappingURL=data:application/json");
    }
  });

  it("reports the errors the compiler reports in-process, at the same lines", async () => {
    const dir = scratch({
      "model.ts": model("const wrong: number = 'x';\nexport const n: string = mlp;\n"),
      "layers.ts": layers,
    });
    const { viaSnapshot, inProcess } = await bothWays(join(dir, "model.ts"));
    expect(viaSnapshot?.kind).toBe("errors");
    expect(viaSnapshot).toEqual(inProcess);
    if (viaSnapshot?.kind !== "errors") return;
    expect(viaSnapshot.lines).toHaveLength(2);
    expect(viaSnapshot.lines[0]).toMatch(/model\.ts:5:7 Type 'string' is not assignable/);
  });
});

describe("a compile reusing parsed declarations", () => {
  it("takes a parsed file only while its text on disk is unchanged", () => {
    const dir = scratch({ "lib.d.ts": "export declare const a: number;\n" });
    const file = join(dir, "lib.d.ts");
    const options = modelCompilerOptions(ts, "/", join(dir, "out"), {});
    const parsed = new Map<string, TS.SourceFile>();
    const first = ts.createProgram({ rootNames: [file], options });
    parsed.set(file, first.getSourceFile(file)!);

    const host = reusingHost(ts, options, parsed);
    const same = host.getSourceFile(file, ts.ScriptTarget.ES2022);
    expect(same).toBe(parsed.get(file));

    writeFileSync(file, "export declare const a: string;\n");
    const changed = host.getSourceFile(file, ts.ScriptTarget.ES2022);
    expect(changed).not.toBe(parsed.get(file));
    expect(changed?.text).toContain("a: string");
  });
});

describe("the CLI with and without the snapshot", () => {
  const run = (dir: string, snapshot: "on" | "off") => {
    const env = {
      ...process.env,
      SHARDCOST_CACHE_DIR: "off",
      ...(snapshot === "off" ? { SHARDCOST_COMPILER_SNAPSHOT: "off" } : {}),
    };
    const r = require("node:child_process").spawnSync(
      process.execPath,
      [BIN, "explain", "model.ts", "--mesh", "v5e:2x2"],
      { cwd: dir, encoding: "utf8", env },
    ) as { status: number; stdout: string; stderr: string };
    return r;
  };

  it("prints the same report, and the same type errors", () => {
    const good = scratch({ "model.ts": model(), "layers.ts": layers });
    const on = run(good, "on");
    expect(on.status).toBe(0);
    expect(on.stdout).toBe(run(good, "off").stdout);
    // The report's rows point at lines of the model file and its import.
    expect(on.stdout).toMatch(/layers\.ts:4/);

    const bad = scratch({ "model.ts": model("const wrong: number = 'x';\n"), "layers.ts": layers });
    const badOn = run(bad, "on");
    expect(badOn.status).toBe(1);
    expect(badOn.stderr).toContain("model.ts:5:7");
    expect(badOn.stderr).toBe(run(bad, "off").stderr);
  }, 120_000);
});
