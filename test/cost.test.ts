/**
 * Cost facts, each from first principles or a seed case (shared/reference/seed-cases.md),
 * measured on traced programs.
 */
import {
  CHIPS,
  type DType,
  estimate,
  type OpEstimate,
  param,
  peakFlops,
  tensor,
  trace,
} from "@shardcost/core";
import {
  astype,
  attention,
  dynamicUpdateSlice,
  einsum,
  LLAMA3_8B,
  llamaDecode,
  mul,
  silu,
} from "@shardcost/ops";
import { describe, expect, it } from "vitest";

const v5e = CHIPS.v5e;

function matmul(B: number, D: number, F: number, x: DType, w: DType) {
  return trace(
    (t) => einsum("BD,DF->BF", t.x, t.w),
    { x: tensor("x[B, D]", x), w: param("W[D, F]", w) },
    { B, D, F },
  );
}

function einsumOp(ops: readonly OpEstimate[]): OpEstimate {
  const op = ops.find((o) => o.label.startsWith("einsum"));
  if (!op) throw new Error("no einsum kernel");
  return op;
}

describe("matmul cost facts", () => {
  const [B, D, F] = [32, 8192, 28672];

  it("einsum BD,DF->BF costs 2BDF FLOPs", () => {
    const est = estimate(matmul(B, D, F, "bf16", "bf16"), v5e);
    expect(est.totals.flops).toBe(2 * B * D * F);
  });

  it("a bf16 matmul reads and writes 2BD + 2DF + 2BF bytes", () => {
    const est = estimate(matmul(B, D, F, "bf16", "bf16"), v5e);
    expect(est.ops).toHaveLength(1);
    expect(est.totals.hbmBytes).toBe(2 * B * D + 2 * D * F + 2 * B * F);
  });

  it("int8 weights feeding a bf16 einsum count one byte per weight (the cast fuses)", () => {
    const est = estimate(matmul(B, D, F, "bf16", "int8"), v5e);
    expect(est.ops).toHaveLength(1);
    expect(est.ops[0]!.fused).toEqual(["astype"]);
    expect(est.ops[0]!.computeClass).toBe("bf16");
    expect(est.totals.hbmBytes).toBe(2 * B * D + D * F + 2 * B * F);
  });
});

describe("S6: critical batch of a decode matmul on v5e", () => {
  /** Smallest batch at which the traced einsum is compute-bound, by bisection. */
  function flipBatch(D: number, F: number, x: DType, w: DType): number {
    const bound = (B: number) => einsumOp(estimate(matmul(B, D, F, x, w), v5e).ops).bound;
    let lo = 1;
    let hi = 4096;
    expect(bound(lo)).toBe("hbm");
    expect(bound(hi)).toBe("compute");
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (bound(mid) === "compute") hi = mid;
      else lo = mid;
    }
    return hi;
  }

  /**
   * First principles: compute-bound once 2BDF/C ≥ bytes/W, with bytes = bx·BD + bw·DF + 2BF
   * (bx, bw bytes per activation and weight; bf16 results), solved for B.
   */
  function exactFlip(D: number, F: number, bx: number, bw: number, C: number): number {
    const W = v5e.hbmBandwidth;
    return Math.ceil((bw * D * F) / W / ((2 * D * F) / C - (bx * D + 2 * F) / W));
  }

  const cases = [
    { name: "bf16 weights, bf16 FLOPs", x: "bf16", w: "bf16", bx: 2, bw: 2, book: 240 },
    { name: "int8 weights, bf16 FLOPs", x: "bf16", w: "int8", bx: 2, bw: 1, book: 120 },
    { name: "int8 weights, int8 FLOPs", x: "int8", w: "int8", bx: 1, bw: 1, book: 240 },
  ] as const;

  it.each(cases)("$name: the traced LLaMA-3-70B MLP matmul flips where the roofline says", (c) => {
    const C = peakFlops(v5e, c.x === "int8" ? "int8" : "bf16");
    const flip = flipBatch(8192, 28672, c.x, c.w);
    expect(flip).toBe(exactFlip(8192, 28672, c.bx, c.bw, C));
  });

  it.each(cases)("$name: with B ≪ D, F the flip is the book's C/W (±2%)", (c) => {
    // The book's figure neglects activation bytes, exact when D and F dwarf B.
    const flip = flipBatch(65536, 65536, c.x, c.w);
    expect(Math.abs(flip - c.book) / c.book).toBeLessThan(0.02);
  });
});

describe("S23: naive attention, N = 1024, d = 128, fp16", () => {
  const N = 1024;
  const d = 128;
  // The seed counts softmax as exp, sum, divide (no max subtraction) and applies no scale.
  const naive = { key: "S", head: "H", scale: null, softmax: { stable: false } } as const;

  it("prefill: N²(4d+3) FLOPs, 8N(N+d) bytes, AI ≈ 57", () => {
    const program = trace(
      (t) => attention(t.q, t.k, t.v, { ...naive, query: "T" }),
      { q: tensor("Q[T, H]", "f16"), k: tensor("K[S, H]", "f16"), v: tensor("V[S, H]", "f16") },
      { T: N, S: N, H: d },
    );
    const est = estimate(program, v5e);
    expect(est.totals.flops).toBe(N * N * (4 * d + 3));
    expect(est.totals.hbmBytes).toBe(8 * N * (N + d));
    expect(Math.round(est.totals.flops / est.totals.hbmBytes)).toBe(57);
  });

  function decode(B: number) {
    const q = B === 1 ? tensor("Q[H]", "f16") : tensor("Q[B, H]", "f16");
    const program = trace(
      (t) => attention(t.q, t.k, t.v, naive),
      { q, k: tensor("K[S, H]", "f16"), v: tensor("V[S, H]", "f16") },
      { B, S: N, H: d },
    );
    return estimate(program, v5e).totals;
  }

  it("decode at B = 1: N(4d+3) FLOPs, 4(Nd + d + 2N) bytes, AI ≈ 1", () => {
    const t = decode(1);
    expect(t.flops).toBe(N * (4 * d + 3));
    expect(t.hbmBytes).toBe(4 * (N * d + d + 2 * N));
    expect(Math.round(t.flops / t.hbmBytes)).toBe(1);
  });

  it("decode at batch B: NB(4d+3) FLOPs over 4Nd + 8BN + 4Bd bytes, AI → Nd/(2N+d) ≈ 60", () => {
    for (const B of [2, 16, 256]) {
      const t = decode(B);
      expect(t.flops).toBe(N * B * (4 * d + 3));
      expect(t.hbmBytes).toBe(4 * N * d + 8 * B * N + 4 * B * d);
    }
    const big = decode(16384);
    expect(big.flops / big.hbmBytes).toBeCloseTo((N * d) / (2 * N + d), 0);
    expect(Math.round((N * d) / (2 * N + d))).toBe(60);
  });
});

describe("S26: a KV-cache update costs only the new token's bytes", () => {
  it("a dynamic_update_slice into a cache moves the update, not the cache", () => {
    const [B, S, K, H] = [8, 4096, 8, 128];
    const program = trace(
      (t) => dynamicUpdateSlice(t.cache, astype(t.k, "int8"), "S", t.pos),
      {
        cache: tensor("Kcache[B, S, K, H]", "int8", "cache"),
        k: tensor("k[B, K, H]", "bf16"),
        pos: tensor("pos[]", "int32"),
      },
      { B, S, K, H },
    );
    const est = estimate(program, v5e);
    expect(est.ops).toHaveLength(1);
    // Read the new bf16 keys once, write them once as int8; the 32 MB cache is untouched.
    expect(est.ops[0]!.bytesRead).toBe(2 * B * K * H);
    expect(est.ops[0]!.bytesWritten).toBe(B * K * H);
    expect(est.memory.cacheBytes).toBe(B * S * K * H);
  });

  it("decode at batch 1: the step streams every weight once, so it takes ≥ weights / W_hbm", () => {
    const m = llamaDecode(LLAMA3_8B, { batch: 1, seq: 4096 });
    const est = estimate(trace(m.fn, m.inputs, m.dims), v5e);
    // Of the embedding table only the looked-up row is read; every other weight byte is, once.
    const embedTable = LLAMA3_8B.V * LLAMA3_8B.D * 2;
    const streamed = est.memory.paramBytes - embedTable;
    const floor = streamed / v5e.hbmBandwidth;
    expect(est.totals.timeS).toBeGreaterThanOrEqual(floor);
    expect(est.totals.hbmBytes).toBeGreaterThan(streamed);
    // The batch-1 step is HBM-bound and within 20% of the weight-streaming floor.
    expect(est.totals.bound).toBe("hbm");
    expect(est.totals.timeS / floor).toBeLessThan(1.2);
  });
});

describe("fusion", () => {
  it("a silu·mul chain writes only its product", () => {
    const [B, D, F] = [16, 1024, 4096];
    const program = trace(
      (t) => mul(silu(einsum("BD,DF->BF", t.x, t.w1)), einsum("BD,DF->BF", t.x, t.w2)),
      { x: tensor("x[B, D]"), w1: param("W1[D, F]"), w2: param("W2[D, F]") },
      { B, D, F },
    );
    const est = estimate(program, v5e);
    const loop = est.ops.find((o) => o.label === "mul")!;
    expect(loop.fused).toEqual(["silu"]);
    expect(loop.bytesRead).toBe(2 * (2 * B * F));
    expect(loop.bytesWritten).toBe(2 * B * F);
    expect(est.ops).toHaveLength(3);
  });
});

describe("fusion writes each value once, where it must reach HBM", () => {
  const B = 64;
  const D = 512;
  const F = 1024;
  const dims = { B, D, F };
  const weights = { w1: param("W1[D, F]", "bf16"), w2: param("W2[D, F]", "bf16") };
  const outBytes = 2 * B * F * 2; // two bf16 [B, F] results

  it("a cast fused into two einsums runs in each, and neither writes it", () => {
    // x (f32) cast to bf16 feeds two matmuls: each reads x at 4 bytes an element, computes the
    // cast itself, and writes only its own result.
    const program = trace(
      (t) => {
        const a = astype(t.x, "bf16");
        return { y1: einsum("BD,DF->BF", a, t.w1), y2: einsum("BD,DF->BF", a, t.w2) };
      },
      { x: tensor("x[B, D]", "f32"), ...weights },
      dims,
    );
    const e = estimate(program, v5e);
    expect(e.ops).toHaveLength(2);
    const want = 2 * (B * D * 4) + 2 * (D * F * 2) + outBytes;
    expect(e.totals.hbmBytes).toBe(want);
  });

  it("a loop's narrowing cast read by several kernels ends the loop: it writes bf16 once", () => {
    // RMSNorm-like: an f32 loop, cast to bf16, read by two matmuls. The loop reads x and writes
    // the bf16 result once; each matmul reads that (2 bytes an element), not the f32.
    const program = trace(
      (t) => {
        const a = astype(mul(t.x, t.x), "bf16");
        return { y1: einsum("BD,DF->BF", a, t.w1), y2: einsum("BD,DF->BF", a, t.w2) };
      },
      { x: tensor("x[B, D]", "f32"), ...weights },
      dims,
    );
    const e = estimate(program, v5e);
    expect(e.ops).toHaveLength(3);
    const loop = B * D * 4 + B * D * 2;
    const matmuls = 2 * (B * D * 2) + 2 * (D * F * 2) + outBytes;
    expect(e.totals.hbmBytes).toBe(loop + matmuls);
  });
});
