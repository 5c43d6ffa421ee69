/**
 * Benchmarks, printed as JSON. Each figure is the median of timed runs after warm-up, in ms.
 *   traceEstimate70bDecode — trace + single-chip estimate of an 80-layer LLaMA-3-70B decode step,
 *     as a user runs it (source lines recovered lazily, only if a report prints them)
 *   traceEstimate70bDecodeEagerSources — the same with a stack capture per user-level op
 *   trace70bDecode, estimate70bDecode — the two halves
 *   lowerEstimate70bDecode4x4 — lower + per-chip estimate of the same step, model-parallel on a
 *     v5e 4x4 (layout in layouts.ts)
 *   traceLowerEstimate405bDecode2dws16x16 — LLaMA-3-405B decode (126 layers), traced, lowered
 *     with the 2d-ws layout on a v5e 16x16 pod (as mesh X=8 Y=2 Z=16) and estimated per chip
 *   spmdPropertyCasesPerS — random sharded programs checked by assertSpmdEquivalent per second
 *     (lower, simulate every device, interpret, compare), as the property tests run them
 */
import { estimate, trace } from "@shardcost/core";
import { LLAMA3_70B, LLAMA3_405B, llamaDecode } from "@shardcost/ops";
import { resolveLayout } from "@shardcost/serving";
import { estimateSpmd, lower, mesh } from "@shardcost/sharding";
import { assertSpmdEquivalent, buildChain, chainArb, meshArb } from "@shardcost/sharding/testing";
import fc from "fast-check";
import { HEADS_X_MLP_XY } from "./layouts.js";

interface Figure {
  readonly medianMs: number;
  readonly p90Ms: number;
  readonly runs: number;
  readonly targetMs?: number;
  readonly [extra: string]: number | undefined;
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

const model = llamaDecode(LLAMA3_70B, { batch: 32, seq: 8192, weights: "int8" });
const program = trace(model.fn, model.inputs, model.dims);

const v5e4x4 = mesh("v5e", { X: 4, Y: 4 });
const sharded = llamaDecode(LLAMA3_70B, {
  batch: 32,
  seq: 8192,
  weights: "int8",
  kv: "int8",
  layout: HEADS_X_MLP_XY,
});
const shardedProgram = trace(sharded.fn, sharded.inputs, sharded.dims);

// A 16x16 pod viewed as X=8 (KV heads, and D for 2d-ws), Y=2 × Z=16 (F and batch).
const pod = mesh("v5e", { X: 8, Y: 2, Z: 16 });
const big = llamaDecode(LLAMA3_405B, {
  batch: 256,
  seq: 8192,
  weights: "int8",
  kv: "int8",
  flash: true,
  layout: resolveLayout("2d-ws", LLAMA3_405B, pod, 256),
});
const bigOnce = estimateSpmd(lower(trace(big.fn, big.inputs, big.dims), pod), pod);

const samples = fc.sample(
  meshArb().chain((m) => chainArb(m).map((recipe) => ({ m, recipe }))),
  { seed: 1, numRuns: 300 },
);
function propertyThroughput(): number {
  const t0 = performance.now();
  for (const { m, recipe } of samples) assertSpmdEquivalent(buildChain(recipe), m);
  return +(samples.length / ((performance.now() - t0) / 1000)).toFixed(0);
}
propertyThroughput();

const figures = {
  traceEstimate70bDecode: {
    ...measure(() => estimate(trace(model.fn, model.inputs, model.dims), "v5e"), 40, 15),
    targetMs: 20,
    equations: program.eqns.length,
  },
  traceEstimate70bDecodeEagerSources: measure(
    () => estimate(trace(model.fn, model.inputs, model.dims, { sourceLocations: true }), "v5e"),
    40,
    15,
  ),
  trace70bDecode: measure(() => trace(model.fn, model.inputs, model.dims), 40, 15),
  estimate70bDecode: measure(() => estimate(program, "v5e"), 40, 15),
  lowerEstimate70bDecode4x4: {
    ...measure(() => estimateSpmd(lower(shardedProgram, v5e4x4), v5e4x4), 30, 10),
    targetMs: 50,
    loweredEquations: lower(shardedProgram, v5e4x4).eqns.length,
  },
  traceLowerEstimate405bDecode2dws16x16: {
    ...measure(() => estimateSpmd(lower(trace(big.fn, big.inputs, big.dims), pod), pod), 20, 5),
    targetMs: 30,
    stepMs: +(bigOnce.totals.serialS * 1e3).toFixed(2),
    fits: bigOnce.memory.fits ? 1 : 0,
  },
  spmdPropertyCasesPerS: propertyThroughput(),
};
console.log(JSON.stringify(figures, null, 2));
