import { existsSync, rmSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { workerData } from "node:worker_threads";
import { isModel, ShardcostError } from "@shardcost/core";
import type { CompileResult } from "./compile-model.cjs";
import {
  type CompilePlan,
  compileNow,
  type Emitted,
  type Handed,
  handedCompile,
  keepCompile,
  outFolder,
  planCompile,
} from "./model-compile.js";

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

/** What to do when a declared input is used where a tracer is expected. */
export const SPEC_HINT =
  "hint: the forward function receives a Tracer for every declared tensor(), not the spec. " +
  'Type its argument `Traced<typeof inputs>` (import { type Traced } from "@shardcost/core"), ' +
  "or write `export default model({ inputs, dims }, (t) => …)` and TypeScript infers it.";

/**
 * Type-checks a model file with the TypeScript compiler (strict), reporting every error as
 * `file:line:col message`, then emits it with an inline source map and imports it, so stack
 * frames — and the per-op rows of every report — point at lines of the `.ts` file. The emitted
 * JavaScript is cached (`cacheDir` in `model-compile.ts`) by the content of the file and of every file it imports:
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
  const handed = handedCompile(file);
  const plan = handed?.plan ?? planCompile(file);
  const entry = plan.cached ?? (await compileModelFile(path, plan, handed));
  process.setSourceMapsEnabled(true);
  let mod: Record<string, unknown>;
  // The library the file imports is the built one: record where its inputs are declared.
  const core = (await import(pathToFileURL(plan.entries["@shardcost/core"]!.js).href)) as {
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

/**
 * Type-checks and emits a model file the cache does not hold, or takes the compile the CLI's
 * main thread started for it (see `run`), and turns type errors into one typed error.
 */
async function compileModelFile(
  path: string,
  plan: CompilePlan,
  handed: Handed | undefined,
): Promise<Emitted> {
  const fromHanded = await handed?.result;
  let out: string;
  let result: CompileResult;
  if (handed?.out !== undefined && fromHanded) {
    out = handed.out;
    result = fromHanded;
  } else {
    // None started, or its run failed: compile here (its folder, if any, is not used).
    if (handed?.out !== undefined) rmSync(handed.out, { recursive: true, force: true });
    out = outFolder(plan, (workerData as { tmp?: string } | null)?.tmp);
    result = await compileNow(plan, out);
  }
  if (result.kind === "errors") {
    rmSync(out, { recursive: true, force: true });
    // A function typed `(t: typeof inputs)` receives tracers, not the declared specs.
    const hint = result.specForTracer ? `\n${SPEC_HINT}` : "";
    const n = result.lines.length;
    throw new ShardcostError(
      "input",
      `model file ${path} does not type-check (${n} error${n > 1 ? "s" : ""}):\n${result.lines.join("\n")}${hint}`,
    );
  }
  if (result.kind === "empty") {
    rmSync(out, { recursive: true, force: true });
    throw new ShardcostError("input", `model file ${path} produced no JavaScript`);
  }
  return keepCompile(plan, out, result);
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
