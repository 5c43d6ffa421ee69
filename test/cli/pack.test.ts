// The packages as a user installs them: `npm pack` tarballs of core, ops, sharding, serving and
// cli installed into an empty project outside the repository, offline (the library's own
// dependencies are packed from this install too), then the installed `shardcost` and the
// installed library are used there as a user would.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, scratch, shardcost } from "./run.js";

const WORKSPACES = ["core", "ops", "sharding", "serving", "cli"];
/** Runtime dependencies of the packages, packed from this repository's node_modules. */
const DEPENDENCIES = ["immer", "@dagrejs/graphlib", "typescript"];

/** Child processes without the npm_* settings of the `npm test` that runs us. */
const env = () =>
  Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));

const npm = (args: string[], cwd: string) =>
  execFileSync("npm", args, { cwd, env: env(), encoding: "utf8", stdio: "pipe" });

describe("installable packages", () => {
  it("packed tarballs install offline into an empty project; its shardcost and library run there", () => {
    const tarballs = scratch();
    for (const w of WORKSPACES) {
      npm(["pack", "--workspace", `packages/${w}`, "--pack-destination", tarballs], ROOT);
    }
    for (const d of DEPENDENCIES) {
      npm(["pack", join(ROOT, "node_modules", d), "--pack-destination", tarballs], ROOT);
    }
    const packed = readdirSync(tarballs).filter((f) => f.endsWith(".tgz"));
    expect(packed).toHaveLength(WORKSPACES.length + DEPENDENCIES.length);

    // What a package ships: its build, its sources, declarations — not tests or build state.
    const listing = npm(["pack", "--dry-run", "--json", "--workspace", "packages/core"], ROOT);
    const files = (JSON.parse(listing) as { files: { path: string }[] }[])[0]!.files.map(
      (f) => f.path,
    );
    expect(files).toContain("dist/index.js");
    expect(files).toContain("dist/index.d.ts");
    expect(files.some((f) => f.endsWith(".tsbuildinfo"))).toBe(false);

    const project = join(scratch(), "user-project");
    mkdirSync(project);
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify({ name: "user-project", private: true, type: "module" }),
    );
    npm(
      ["install", "--offline", "--no-audit", "--no-fund", ...packed.map((f) => join(tarballs, f))],
      project,
    );

    const bin = join(project, "node_modules/.bin/shardcost");
    const run = (args: string[]) =>
      spawnSync(bin, args, { cwd: project, env: { ...env(), NO_COLOR: "1" }, encoding: "utf8" });

    const version = run(["--version"]);
    expect(version.status).toBe(0);
    const ours = JSON.parse(readFileSync(join(ROOT, "packages/cli/package.json"), "utf8"));
    expect(version.stdout.trim()).toBe(`shardcost ${ours.version}`);

    // init, then estimate the starter: the same figures as this repository's CLI gives for it.
    expect(run(["init", "."]).status).toBe(0);
    const installed = run(["estimate", "model.ts", "--mesh", "v5e:2x4x4", "--json"]);
    expect(installed.stderr).toBe("");
    expect(installed.status).toBe(0);
    const here = shardcost([
      "estimate",
      join(project, "model.ts"),
      "--mesh",
      "v5e:2x4x4",
      "--json",
    ]);
    expect(here.status).toBe(0);
    expect(JSON.parse(installed.stdout).perChip).toEqual(JSON.parse(here.stdout).perChip);

    // A built-in model's report is the same byte for byte, installed or here: its source lines
    // are package-relative.
    const builtin = ["estimate", "--model", "llama3-8b", "--mesh", "v5e:2x2", "--json"];
    const there = run(builtin);
    expect(there.status).toBe(0);
    expect(there.stdout).toBe(shardcost(builtin).stdout);
    expect(there.stdout).toContain('"source": "@shardcost/ops/src/models/llama.ts:');

    // The installed compiler checks the starter with the written tsconfig.json.
    const tsc = spawnSync(process.execPath, [join(project, "node_modules/typescript/bin/tsc")], {
      cwd: project,
      encoding: "utf8",
    });
    expect(tsc.stdout).toBe("");
    expect(tsc.status).toBe(0);

    // The library itself, imported by package name from the user's own script.
    writeFileSync(
      join(project, "use.mjs"),
      [
        'import { CHIPS, tensor, trace } from "@shardcost/core";',
        'import { einsum } from "@shardcost/ops";',
        'import { estimateSpmd, lower, mesh } from "@shardcost/sharding";',
        "const program = trace((t) => ({ y: einsum('BD,DF->BF', t.x, t.w) }),",
        "  { x: tensor('x[B, D]'), w: tensor('w[D, F_X]', 'bf16', 'param') }, { B: 8, D: 512, F: 1024 });",
        "const m = mesh(CHIPS.v5e, { X: 4 });",
        "console.log(JSON.stringify({ flops: estimateSpmd(lower(program, m), m).totals.flops }));",
      ].join("\n"),
    );
    const used = spawnSync(process.execPath, ["use.mjs"], { cwd: project, encoding: "utf8" });
    expect(used.stderr).toBe("");
    // 2·B·D·F/4 multiply-adds on each of 4 chips.
    expect(JSON.parse(used.stdout).flops).toBe((2 * 8 * 512 * 1024) / 4);
  }, 180_000);
});
