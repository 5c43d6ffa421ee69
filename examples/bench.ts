/**
 * Benchmarks, printed as JSON. Each figure is the median of timed runs after warm-up, in ms,
 * measured with only its own inputs alive (so one figure's heap does not slow another's GC).
 *   traceEstimate70bDecode — trace + single-chip estimate of an 80-layer LLaMA-3-70B decode step,
 *     as a user runs it (source lines recovered lazily, only if a report prints them)
 *   traceEstimate70bDecodeEagerSources — the same with a stack capture per user-level op
 *   trace70bDecode, estimate70bDecode — the two halves
 *   lowerEstimate70bDecode4x4 — lower + per-chip estimate of the same step, model-parallel on a
 *     v5e 4x4 (the 1d-ws preset)
 *   traceLowerEstimate405bDecode2dws16x16 — LLaMA-3-405B decode (126 layers), traced, lowered
 *     with the 2d-ws layout on a v5e 16x16 pod (as mesh X=8 Y=2 Z=16) and estimated per chip
 *   traceLowerEstimate405bDecode2dws16x16Periodic — the same step through the sweep engine: two-
 *     and three-layer models traced, lowered and costed, the 126 layers extrapolated (exact)
 *   sweep70bDecode10k — `shardcost sweep`'s engine over 10,000 LLaMA-3-70B decode configurations
 *     (batch × mesh × layout × weight and KV dtypes), from a cold start each run
 *   spmdPropertyCasesPerS — random sharded programs checked by assertSpmdEquivalent per second
 *     (lower, simulate every device, interpret, compare), as the property tests run them
 */
import { runSweep } from "@shardcost/cli";
import { estimate, trace } from "@shardcost/core";
import { LLAMA3_70B, LLAMA3_405B, llamaDecode } from "@shardcost/ops";
import { resolveLayout, StepEstimator } from "@shardcost/serving";
import { estimateSpmd, lower, mesh } from "@shardcost/sharding";
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
      targetMs: 20,
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
      ...measure(() => estimateSpmd(lower(program, m), m), 30, 10),
      targetMs: 50,
      loweredEquations: lower(program, m).eqns.length,
    },
  };
}

function pod() {
  // A 16x16 pod viewed as X=8 (KV heads, and D for 2d-ws), Y=2 × Z=16 (F and batch).
  const m = mesh("v5e", { X: 8, Y: 2, Z: 16 });
  const model = llamaDecode(LLAMA3_405B, {
    batch: 256,
    seq: 8192,
    weights: "int8",
    kv: "int8",
    attention: "flash",
    layout: resolveLayout("2d-ws", LLAMA3_405B, m, { batch: 256, seq: 8192 }),
  });
  const run = () => estimateSpmd(lower(trace(model.fn, model.inputs, model.dims), m), m);
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
  const periodic = () => new StepEstimator().step(LLAMA3_405B, query, "2d-ws", m);
  return {
    traceLowerEstimate405bDecode2dws16x16: {
      ...measure(run, 20, 5),
      stepMs: +(once.totals.serialS * 1e3).toFixed(2),
      fits: once.memory.fits ? 1 : 0,
    },
    traceLowerEstimate405bDecode2dws16x16Periodic: {
      ...measure(periodic, 20, 5),
      targetMs: 30,
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
  let fits = 0;
  const figure = measure(
    () => {
      const out = runSweep(grid);
      rows = out.length;
      fits = out.filter((r) => r.fits).length;
    },
    3,
    0,
  );
  return { sweep70bDecode10k: { ...figure, targetMs: 10_000, configurations: rows, fit: fits } };
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

const figures = {
  ...singleChip(),
  ...fourByFour(),
  ...pod(),
  ...sweep10k(),
  ...propertyThroughput(),
};
console.log(JSON.stringify(figures, null, 2));
