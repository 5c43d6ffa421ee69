/**
 * Benchmarks, printed as JSON: `figures` (each the median of timed runs after warm-up, in ms,
 * measured with only its own inputs alive), then `goals`: each figure the speed issue names,
 * with its goal and whether it is met. In-process figures:
 *   traceEstimate70bDecode — trace + single-chip estimate of an 80-layer LLaMA-3-70B decode step,
 *     as a user runs it (source lines recovered lazily, only if a report prints them)
 *   traceEstimate70bDecodeEagerSources — the same with a stack capture per user-level op
 *   trace70bDecode, estimate70bDecode — the two halves
 *   lowerEstimate70bDecode4x4 — lower + per-chip estimate of the same step, model-parallel on a
 *     v5e 4x4 (the 1d-ws preset)
 *   traceLowerEstimate405bDecode2dws16x16 — LLaMA-3-405B decode (126 layers), traced, lowered
 *     with the 2d-ws layout on the mesh `--mesh v5e:16x16` builds and estimated per chip
 *   traceLowerEstimate405bDecode2dws16x16Periodic — the same step from two- and three-layer
 *     models, the 126 layers extrapolated (exact), as `shardcost estimate` runs it
 *   sweep70bDecode10k — `shardcost sweep`'s engine over 10,000 LLaMA-3-70B decode configurations
 *     (batch × mesh × layout × weight and KV dtypes), from a cold start each run
 *   spmdPropertyCasesPerS — random sharded programs checked by assertSpmdEquivalent per second
 * Whole processes (the README's commands, median wall of 5 after a warm-up):
 *   cliEstimate405b, cliSweep10k, cliModelFileCold (compiler run, no cache at all; the compiler
 *   starts from the snapshot `npm ci` builds), cliModelFileColdNoSnapshot (the same with
 *   SHARDCOST_COMPILER_SNAPSHOT=off: the compiler loaded and run in the worker),
 *   cliModelFileEdited (the file changed before each run, the cache kept), cliModelFileCached,
 *   cliSearch70bDecode16x16 and cliSearch405bDecode16x16 (`shardcost search`, batch 256 on
 *   v5e 16x16, every core)
 * traceVsJaxJs80Layers — the same 80-layer decode step traced by shardcost and by jax-js 0.1.25
 *   (`makeJaxpr`, `jax-js-step.ts`), interleaved run by run in this process: medians and ratio,
 *   the young generation collected before each timed trace (so each pays for its own garbage
 *   only), and `sharedHeap`: the same without collecting (each also in the other's garbage)
 * One child process: lowered1M — a LLaMA-3-405B decode step of 11,500 layers (~1M lowered
 *   equations), traced, lowered and estimated in full: its time and peak memory.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseMesh, runSweep } from "@shardcost/cli";
import { estimate, trace } from "@shardcost/core";
import { LLAMA3_70B, LLAMA3_405B, llamaDecode } from "@shardcost/ops";
import { compileStepPeriodic, resolveLayout } from "@shardcost/serving";
import { compile, mesh } from "@shardcost/sharding";
import { assertSpmdEquivalent, buildChain, chainArb, meshArb } from "@shardcost/sharding/testing";
import fc from "fast-check";

interface Figure {
  readonly medianMs: number;
  readonly p90Ms: number;
  readonly runs: number;
  readonly [extra: string]: number;
}

function measure(fn: () => void, runs: number, warmup: number): Figure {
  for (let i = 0; i < warmup; i++) fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const at = (q: number) =>
    +times[Math.min(times.length - 1, Math.floor(q * times.length))]!.toFixed(2);
  return { medianMs: at(0.5), p90Ms: at(0.9), runs };
}

function singleChip() {
  const model = llamaDecode(LLAMA3_70B, { batch: 32, seq: 8192, weights: "int8" });
  const once = trace(model.fn, model.inputs, model.dims);
  const run = (sourceLocations: boolean | "lazy") => () =>
    estimate(trace(model.fn, model.inputs, model.dims, { sourceLocations }), "v5e");
  return {
    traceEstimate70bDecode: {
      ...measure(run("lazy"), 60, 20),
      equations: once.eqns.length,
    },
    traceEstimate70bDecodeEagerSources: measure(run(true), 30, 10),
    trace70bDecode: measure(() => trace(model.fn, model.inputs, model.dims), 40, 15),
    estimate70bDecode: measure(() => estimate(once, "v5e"), 40, 15),
  };
}

function fourByFour() {
  const m = mesh("v5e", { X: 4, Y: 4 });
  const model = llamaDecode(LLAMA3_70B, {
    batch: 32,
    seq: 8192,
    weights: "int8",
    kv: "int8",
    layout: resolveLayout("1d-ws", LLAMA3_70B, m, { batch: 32, seq: 8192 }),
  });
  const program = trace(model.fn, model.inputs, model.dims);
  return {
    lowerEstimate70bDecode4x4: {
      ...measure(() => compile(program, { mesh: m }).estimate, 30, 10),
      loweredEquations: compile(program, { mesh: m }).lowered.eqns.length,
    },
  };
}

function pod() {
  // The mesh `--mesh v5e:16x16` builds: X=16, Y=16 on the pod's torus.
  const m = parseMesh("v5e:16x16");
  const model = llamaDecode(LLAMA3_405B, {
    batch: 256,
    seq: 8192,
    weights: "int8",
    kv: "int8",
    attention: "flash",
    layout: resolveLayout("2d-ws", LLAMA3_405B, m, { batch: 256, seq: 8192 }),
  });
  const run = () => compile(model, { mesh: m }).estimate;
  const once = run();
  // The same step as the sweep engine costs it: two- and three-layer models traced, lowered and
  // costed, the 126 layers extrapolated (equal to the full trace; test/models/engine.test.ts).
  const query = {
    phase: "decode",
    batch: 256,
    seq: 8192,
    weights: "int8",
    kv: "int8",
    attention: "flash",
  } as const;
  const periodic = () => compileStepPeriodic(LLAMA3_405B, query, "2d-ws", m)!.estimate;
  return {
    traceLowerEstimate405bDecode2dws16x16: {
      ...measure(run, 20, 5),
      loweredEquations: compile(model, { mesh: m }).lowered.eqns.length,
      stepMs: +(once.totals.serialS * 1e3).toFixed(2),
      fits: once.memory.fits ? 1 : 0,
    },
    traceLowerEstimate405bDecode2dws16x16Periodic: {
      ...measure(periodic, 20, 5),
      stepMs: +(periodic().totals.serialS * 1e3).toFixed(2),
    },
  };
}

function sweep10k() {
  // batch 25 × mesh 5 × layout 4 × weights 4 × KV 5 = 10,000 LLaMA-3-70B decode configurations.
  const grid = {
    config: LLAMA3_70B,
    phase: "decode",
    seq: 8192,
    attention: "naive",
    batches: Array.from({ length: 25 }, (_, i) => 8 * (i + 1)),
    meshes: [
      { X: 2, Y: 4 },
      { X: 4, Y: 4 },
      { X: 4, Y: 8 },
      { X: 8, Y: 8 },
      { X: 16, Y: 16 },
    ].map((shape) => mesh("v5e", shape)),
    layouts: ["1d-ws", "2d-ws", "weight-gathered", "fsdp"],
    weights: ["bf16", "int8", "int4", "fp8e4m3"],
    kv: ["bf16", "int8", "int4", "fp8e4m3", "f16"],
    compute: ["bf16"],
  } as const;
  let rows = 0;
  let costed = 0;
  let fits = 0;
  const figure = measure(
    () => {
      const out = runSweep(grid);
      rows = out.length;
      costed = out.filter((r) => r.stepS !== null).length;
      fits = out.filter((r) => r.fits).length;
    },
    3,
    0,
  );
  return {
    sweep70bDecode10k: {
      ...figure,
      configurations: rows,
      costed,
      rejected: rows - costed,
      fit: fits,
    },
  };
}

function propertyThroughput() {
  const samples = fc.sample(
    meshArb().chain((m) => chainArb(m).map((recipe) => ({ m, recipe }))),
    { seed: 1, numRuns: 300 },
  );
  const pass = () => {
    const t0 = performance.now();
    for (const { m, recipe } of samples) assertSpmdEquivalent(buildChain(recipe), m);
    return samples.length / ((performance.now() - t0) / 1000);
  };
  pass();
  return { spmdPropertyCasesPerS: +pass().toFixed(0) };
}

/**
 * Tracing against jax-js 0.1.25's `makeJaxpr`, interleaved in this process: the same 80-layer
 * LLaMA-3-70B-shaped decode step (naive attention; small dims, since jax-js's tracer takes
 * example arrays — neither tracer's time depends on sizes).
 */
async function versusJaxJs() {
  const { jaxJsTracer } = await import("./jax-js-step.js");
  const z = { layers: 80, B: 4, S: 32, D: 64, F: 224, N: 8, K: 2, H: 8, V: 256 };
  const config = { ...LLAMA3_70B, D: z.D, F: z.F, N: z.N, K: z.K, H: z.H, V: z.V };
  const model = llamaDecode(config, { batch: z.B, seq: z.S, attention: "naive" });
  const ours = () => trace(model.fn, model.inputs, model.dims).eqns.length;
  const theirs = jaxJsTracer(z);
  const timed = (f: () => number) => {
    const t0 = performance.now();
    f();
    return performance.now() - t0;
  };
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;
  // Warm both up, then alternate which goes first. With `collect` (node --expose-gc, as
  // `npm run bench` runs), the young generation is collected before each timed trace (a
  // scavenge, not a full collection, which would also shrink the heap each run must grow
  // again), so each tracer pays for its own garbage only; without, each also runs in the
  // other's, and the medians move with where the collections fall.
  const interleaved = (collect: (() => void) | undefined) => {
    const a: number[] = [];
    const b: number[] = [];
    const one = (f: () => number) => {
      collect?.();
      return timed(f);
    };
    for (let i = 0; i < 75; i++) {
      const [ta, tb] = i % 2 === 0 ? [one(ours), one(theirs)] : [one(theirs), one(ours)].reverse();
      if (i >= 15) {
        a.push(ta!);
        b.push(tb!);
      }
    }
    return { ours: median(a), theirs: median(b), runs: a.length };
  };
  const gc = (globalThis as { gc?: (options: { type: "minor" }) => void }).gc;
  const collect = gc ? () => gc({ type: "minor" }) : undefined;
  const clean = interleaved(collect);
  const shared = interleaved(undefined);
  return {
    traceVsJaxJs80Layers: {
      shardcostMs: +clean.ours.toFixed(2),
      jaxJsMs: +clean.theirs.toFixed(2),
      ratio: +(clean.theirs / clean.ours).toFixed(2),
      collectedBetweenRuns: collect !== undefined,
      // The same, each tracer running in the other's garbage (no collection between runs).
      sharedHeap: {
        shardcostMs: +shared.ours.toFixed(2),
        jaxJsMs: +shared.theirs.toFixed(2),
        ratio: +(shared.theirs / shared.ours).toFixed(2),
      },
      shardcostEquations: ours(),
      jaxJsEquations: theirs(),
      runs: clean.runs,
    },
  };
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
const BIN = join(ROOT, "packages/cli/bin/shardcost.js");

/** Median wall time of a whole `shardcost` process, after one warm-up run. */
function wallMs(args: readonly string[], env: NodeJS.ProcessEnv = {}, runs = 5): Figure {
  return measure(
    () => {
      const r = spawnSync(process.execPath, [BIN, ...args], {
        cwd: ROOT,
        env: { ...process.env, ...env },
        encoding: "utf8",
        maxBuffer: 64 * 1024 * 1024,
      });
      if (r.status !== 0) throw new Error(`shardcost ${args.join(" ")}: ${r.stderr}`);
    },
    runs,
    1,
  );
}

function wholeProcesses() {
  const cache = mkdtempSync(join(tmpdir(), "shardcost-bench-cache-"));
  const modelFile = ["estimate", "examples/models/mlp-2d.ts", "--mesh", "v5e:2x4x4", "--json"];
  const sweepArgs = [
    "sweep",
    "--model",
    "llama3-70b",
    "--seq",
    "8192",
    "--attention",
    "naive",
    "--batch",
    "8..200:+8",
    "--mesh",
    "v5e:2x4,v5e:4x4,v5e:4x8,v5e:8x8,v5e:16x16",
    "--layout",
    "1d-ws,2d-ws,weight-gathered,fsdp",
    "--weights",
    "bf16,int8,int4,fp8e4m3",
    "--kv",
    "bf16,int8,int4,fp8e4m3,f16",
    "--out",
    join(cache, "sweep.csv"),
  ];
  const search = ["search", "--mesh", "v5e:16x16", "--batch", "256", "--json", "--model"];
  const figures = {
    cliEstimate405b: wallMs([
      "estimate",
      "--model",
      "llama3-405b",
      "--phase",
      "decode",
      "--batch",
      "256",
      "--seq",
      "8192",
      "--mesh",
      "v5e:16x16",
      "--layout",
      "2d-ws",
      "--json",
    ]),
    cliSweep10k: wallMs(sweepArgs, {}, 3),
    cliSearch70bDecode16x16: wallMs([...search, "llama3-70b", "--seq", "2048"], {}, 3),
    cliSearch405bDecode16x16: wallMs([...search, "llama3-405b", "--seq", "8192"], {}, 3),
    cliModelFileCold: wallMs(modelFile, { SHARDCOST_CACHE_DIR: "off" }),
    cliModelFileColdNoSnapshot: wallMs(modelFile, {
      SHARDCOST_CACHE_DIR: "off",
      SHARDCOST_COMPILER_SNAPSHOT: "off",
    }),
    cliModelFileCached: wallMs(modelFile, { SHARDCOST_CACHE_DIR: cache }),
    cliModelFileEdited: editedModelFile(cache),
  };
  rmSync(cache, { recursive: true, force: true });
  return figures;
}

/**
 * A model file edited before each run, the cache folder kept (what a user changing a model
 * sees): the compiler runs each time, but the cache holds its compiled code.
 */
function editedModelFile(cache: string): Figure {
  const dir = mkdtempSync(join(tmpdir(), "shardcost-bench-model-"));
  const file = join(dir, "model.ts");
  const source = readFileSync(join(ROOT, "examples/models/mlp-2d.ts"), "utf8");
  let edits = 0;
  const args = ["estimate", file, "--mesh", "v5e:2x4x4", "--json"];
  const figure = measure(
    () => {
      writeFileSync(file, `${source}\n// edit ${edits++}\n`);
      const r = spawnSync(process.execPath, [BIN, ...args], {
        cwd: ROOT,
        env: { ...process.env, SHARDCOST_CACHE_DIR: cache },
        encoding: "utf8",
      });
      if (r.status !== 0) throw new Error(`shardcost ${args.join(" ")}: ${r.stderr}`);
    },
    5,
    1,
  );
  rmSync(dir, { recursive: true, force: true });
  return figure;
}

/** ~1M lowered equations (405B decode at 11,500 layers) in a child process: time and peak RSS. */
function million() {
  const script = `
    const { LLAMA3_405B, llamaDecode } = await import("@shardcost/ops");
    const { resolveLayout } = await import("@shardcost/serving");
    const { compile } = await import("@shardcost/sharding");
    const { parseMesh } = await import("@shardcost/cli");
    const m = parseMesh("v5e:16x16");
    const config = { ...LLAMA3_405B, layers: 11500 };
    const t0 = performance.now();
    const step = llamaDecode(config, { batch: 256, seq: 8192, weights: "int8", kv: "int8",
      layout: resolveLayout("2d-ws", config, m, { batch: 256, seq: 8192 }) });
    const c = compile(step, { mesh: m });
    const est = c.estimate;
    const ms = performance.now() - t0;
    console.log(JSON.stringify({ ms, eqns: c.lowered.eqns.length, kernels: est.ops.length,
      peakMiB: process.resourceUsage().maxRSS / 1024 }));`;
  const r = spawnSync(
    process.execPath,
    ["--max-old-space-size=4096", "--input-type=module", "-e", script],
    { cwd: ROOT, encoding: "utf8" },
  );
  if (r.status !== 0) return { lowered1M: { error: 1 } };
  const o = JSON.parse(r.stdout) as { ms: number; eqns: number; peakMiB: number };
  return {
    lowered1M: {
      ms: Math.round(o.ms),
      loweredEquations: o.eqns,
      peakMiB: Math.round(o.peakMiB),
    },
  };
}

const figures = {
  ...(await versusJaxJs()),
  ...singleChip(),
  ...fourByFour(),
  ...pod(),
  ...sweep10k(),
  ...propertyThroughput(),
  ...wholeProcesses(),
  ...million(),
};

/** The speed issue's table: each figure with its goal, met or missed. */
const goal = (figure: string, value: number, target: number, unit: string) => ({
  figure,
  value: +value.toFixed(2),
  goal: `≤ ${target} ${unit}`,
  met: value <= target,
});
const m1 = figures.lowered1M as { ms?: number; peakMiB?: number; loweredEquations?: number };
const goals = [
  {
    figure:
      "trace of an 80-layer decode step: jax-js time / shardcost time (young generation " +
      "collected before each run; sharedHeap: without)",
    value: figures.traceVsJaxJs80Layers.ratio,
    goal: "≥ 10×",
    met: figures.traceVsJaxJs80Layers.ratio >= 10,
  },
  goal("cliEstimate405b (whole process)", figures.cliEstimate405b.medianMs, 400, "ms"),
  goal(
    "traceLowerEstimate405bDecode2dws16x16 (full trace, warm)",
    figures.traceLowerEstimate405bDecode2dws16x16.medianMs,
    30,
    "ms",
  ),
  goal("sweep70bDecode10k (in-process)", figures.sweep70bDecode10k.medianMs, 1000, "ms"),
  goal("cliSweep10k (whole process)", figures.cliSweep10k.medianMs, 2000, "ms"),
  goal(
    "lowered1M time (per 1M lowered equations)",
    ((m1.ms ?? Number.POSITIVE_INFINITY) * 1e6) / (m1.loweredEquations ?? 1),
    5000,
    "ms",
  ),
  goal("lowered1M peak memory", m1.peakMiB ?? Number.POSITIVE_INFINITY, 1536, "MiB"),
  goal(
    "cliSearch70bDecode16x16 (whole process, both cores)",
    figures.cliSearch70bDecode16x16.medianMs,
    10_000,
    "ms",
  ),
  goal(
    "cliSearch405bDecode16x16 (whole process, both cores)",
    figures.cliSearch405bDecode16x16.medianMs,
    30_000,
    "ms",
  ),
  goal("cliModelFileCold (compiler run)", figures.cliModelFileCold.medianMs, 800, "ms"),
  goal("cliModelFileEdited (compiler run)", figures.cliModelFileEdited.medianMs, 800, "ms"),
  goal("cliModelFileCached (file unchanged)", figures.cliModelFileCached.medianMs, 400, "ms"),
];
console.log(JSON.stringify({ figures, goals }, null, 2));
