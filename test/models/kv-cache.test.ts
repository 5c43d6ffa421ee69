/**
 * S24 (seed 002): a 2-layer decoder run with its KV cache — prefill of a prompt, then decode
 * steps that read and update the cache — gives the logits of the uncached model run over the
 * whole sequence. Numeric, through `interpret`, in f32 (1e-5 relative).
 */
import { estimate, interpret, type NDArray, type Program, trace } from "@shardcost/core";
import { type LlamaConfig, llamaDecode, llamaPrefill } from "@shardcost/ops";
import { describe, expect, it } from "vitest";
import { maxRelativeError, randomArray } from "../support/arrays.js";

const TINY: LlamaConfig = { name: "tiny", layers: 2, D: 16, F: 32, N: 4, K: 2, H: 4, V: 11 };
const f32 = { weights: "f32", kv: "f32", compute: "f32" } as const;
const tokens = [3, 7, 1, 9, 4];
const prompt = 3;
const total = tokens.length;

function ropeTables(positions: readonly number[]) {
  const half = TINY.H / 2;
  const angle = (p: number, i: number) => p * 10000 ** (-i / half);
  const sin = positions.flatMap((p) =>
    Array.from({ length: half }, (_, i) => Math.sin(angle(p, i))),
  );
  const cos = positions.flatMap((p) =>
    Array.from({ length: half }, (_, i) => Math.cos(angle(p, i))),
  );
  return { ropeSin: sin, ropeCos: cos };
}

/** Additive mask: 0 where query position t may see key position s (s ≤ t), else −∞. */
function causal(queries: readonly number[], keys: number) {
  return queries.flatMap((t) => Array.from({ length: keys }, (_, s) => (s <= t ? 0 : -Infinity)));
}

/** Weights by input path: the same for every program traced from the same config. */
function weights(program: Program): Record<string, Float64Array> {
  const out: Record<string, Float64Array> = {};
  program.inputs.forEach((input) => {
    if (input.role !== "param") return;
    const n = input.var.aval.dims.reduce((k, d) => k * program.dims[d.dim]!, 1);
    let seed = 0;
    for (const ch of input.path) seed = (seed * 31 + ch.charCodeAt(0)) >>> 0;
    const norm = /Norm$/.test(input.path);
    out[input.path] = norm ? randomArray(n, seed, 0.8, 1.2) : randomArray(n, seed, -0.5, 0.5);
  });
  return out;
}

function zeros(program: Program, prefix: string): Record<string, Float64Array> {
  const out: Record<string, Float64Array> = {};
  for (const input of program.inputs) {
    if (!input.path.startsWith(prefix)) continue;
    const n = input.var.aval.dims.reduce((k, d) => k * program.dims[d.dim]!, 1);
    out[input.path] = new Float64Array(n);
  }
  return out;
}

function lastRow(logits: NDArray, rows: number): Float64Array {
  const V = TINY.V;
  return logits.data.slice((rows - 1) * V, rows * V);
}

// The causal and cache-position masks are inputs of the written-out attention.
const naive = { attention: "naive" } as const;

describe("S24: KV-cached decoding equals the uncached model", () => {
  it("prefill + 2 cached decode steps give the full-sequence logits (1e-5 relative)", () => {
    // Uncached: the whole sequence at once, causally masked.
    const full = llamaPrefill(TINY, { batch: 1, seq: total, ...f32, ...naive });
    const fullProgram = trace(full.fn, full.inputs, full.dims);
    const W = weights(fullProgram);
    const positions = tokens.map((_, i) => i);
    const uncached = interpret(fullProgram, {
      ...W,
      ...zeros(fullProgram, "kv."),
      tokens,
      pos: [0],
      ...ropeTables(positions),
      mask: causal(positions, total),
    });
    const want = lastRow(uncached.logits!, total);

    // Cached: prefill the prompt into a cache of the full length, then decode one at a time.
    const pre = llamaPrefill(TINY, {
      batch: 1,
      seq: prompt,
      cacheLength: total,
      ...f32,
      ...naive,
    });
    const preProgram = trace(pre.fn, pre.inputs, pre.dims);
    const promptPositions = positions.slice(0, prompt);
    let state = interpret(preProgram, {
      ...W,
      ...zeros(preProgram, "kv."),
      tokens: tokens.slice(0, prompt),
      pos: [0],
      ...ropeTables(promptPositions),
      mask: causal(promptPositions, total),
    });
    const step = llamaDecode(TINY, { batch: 1, seq: total, mask: true, ...f32, ...naive });
    const stepProgram = trace(step.fn, step.inputs, step.dims);
    let logits: NDArray | undefined;
    for (let p = prompt; p < total; p++) {
      const caches: Record<string, NDArray> = {};
      for (let l = 0; l < TINY.layers; l++) {
        caches[`kv.${l}.k`] = state[`caches.${l}.k`]!;
        caches[`kv.${l}.v`] = state[`caches.${l}.v`]!;
      }
      state = interpret(stepProgram, {
        ...W,
        ...caches,
        tokens: [tokens[p]!],
        pos: [p],
        ...ropeTables([p]),
        mask: causal([p], total),
      });
      logits = state.logits;
    }
    const got = logits!.data;
    expect(got).toHaveLength(TINY.V);
    expect(maxRelativeError(got, want)).toBeLessThan(1e-5);
    // And the test can fail: the logits move with the last token.
    expect(maxRelativeError(got, lastRow(uncached.logits!, total - 1))).toBeGreaterThan(1e-3);
  });
});

describe("KV traffic of a decode step", () => {
  // First principles: a decode step reads each layer's whole K and V cache once (QKᵀ reads K,
  // the weighted sum reads V), through the in-place update that wrote this step's entry.
  it.each(["bf16", "int8"] as const)(
    "reads the whole %s cache once, counted as cache bytes",
    (kv) => {
      const spec = llamaDecode(
        { name: "8b-4l", layers: 4, D: 4096, F: 14336, N: 32, K: 8, H: 128, V: 128256 },
        { batch: 8, seq: 4096, kv },
      );
      const est = estimate(trace(spec.fn, spec.inputs, spec.dims), "v5e");
      const cacheBytes = 4 * 2 * 8 * 4096 * 8 * 128 * (kv === "bf16" ? 2 : 1);
      expect(est.memory.cacheBytes).toBe(cacheBytes);
      expect(est.totals.cacheBytes).toBe(cacheBytes);
    },
  );
});
