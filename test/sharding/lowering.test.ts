/** Lowered programs as text: every inserted collective shows up in review. */
import { param, printProgram, tensor, trace } from "@shardcost/core";
import { astype, einsum, flashAttention, mul, shard, silu, split, tanh } from "@shardcost/ops";
import { estimateSpmd, lower, mesh } from "@shardcost/sharding";
import { assertSpmdEquivalent } from "@shardcost/sharding/testing";
import { describe, expect, it } from "vitest";

const m = mesh("v5e", { X: 2, Y: 2 });
const dims = { I: 8, J: 8, K: 8 };

function matmul(a: string, b: string, constraint?: string) {
  return trace(
    (t) => {
      const c = einsum("IJ,JK->IK", t.a, t.b);
      return constraint ? shard(c, constraint) : c;
    },
    { a: tensor(a, "f32"), b: tensor(b, "f32") },
    dims,
  );
}

describe("the four matmul cases of the sharding chapter", () => {
  it("case 1: contracting dim unsharded — local, no communication", () => {
    expect(printProgram(lower(matmul("A[I_X, J]", "B[J, K_Y]"), m))).toMatchInlineSnapshot(`
      "{ lambda A:f32[I_X, J] B:f32[J, K_Y] .
          a:f32[I_X, K_Y] = einsum[IJ,JK->IK] A:f32[I_X, J] B:f32[J, K_Y]
        in (a) }"
    `);
  });

  it("case 2: one operand sharded on the contracting dim — AllGather it first", () => {
    expect(printProgram(lower(matmul("A[I, J_X]", "B[J, K]"), m))).toMatchInlineSnapshot(`
      "{ lambda A:f32[I, J_X] B:f32[J, K] .
          A':f32[I, J] = AllGather_X[J] A:f32[I, J_X]  # for a = einsum[IJ,JK->IK]
          a:f32[I, K] = einsum[IJ,JK->IK] A':f32[I, J] B:f32[J, K]
        in (a) }"
    `);
  });

  it("case 2 with a big weight split on the contracting dim: slice the activation, reduce the result", () => {
    const program = trace(
      (t) => shard(einsum("IJ,JK->IK", t.x, t.w), "[I, K]"),
      { x: tensor("x[I, J]", "f32"), w: param("W[J_X, K]", "f32") },
      { I: 2, J: 64, K: 64 },
    );
    // Gathering W would move 64·64 floats; reducing the 2×64 result moves far fewer.
    expect(printProgram(lower(program, m))).toMatchInlineSnapshot(`
      "{ lambda x:f32[I, J] W:f32[J_X, K] .
          x':f32[I, J_X] = shard_slice[J_X] x:f32[I, J]  # for a = einsum[IJ,JK->IK]
          a:f32[I, K]{U_X} = einsum[IJ,JK->IK] x':f32[I, J_X] W:f32[J_X, K]
          a':f32[I, K] = AllReduce_X a:f32[I, K]{U_X}  # for b = shard[[I, K]]
          b:f32[I, K] = shard[[I, K]] a':f32[I, K]
        in (b) }"
    `);
  });

  it("…but a program output is never left partial: there the weight is gathered", () => {
    const program = trace(
      (t) => einsum("IJ,JK->IK", t.x, t.w),
      { x: tensor("x[I, J]", "f32"), w: param("W[J_X, K]", "f32") },
      { I: 2, J: 64, K: 64 },
    );
    expect(printProgram(lower(program, m))).toContain("AllGather_X[J] W:f32[J_X, K]");
  });

  it("case 2, when the result's constraint calls for partial sums — ReduceScatter", () => {
    expect(
      printProgram(lower(matmul("A[I, J_X]", "B[J, K]", "[I_X, K]"), m)),
    ).toMatchInlineSnapshot(`
      "{ lambda A:f32[I, J_X] B:f32[J, K] .
          B':f32[J_X, K] = shard_slice[J_X] B:f32[J, K]  # for a = einsum[IJ,JK->IK]
          a:f32[I, K]{U_X} = einsum[IJ,JK->IK] A:f32[I, J_X] B':f32[J_X, K]
          a':f32[I_X, K] = ReduceScatter_X[I] a:f32[I, K]{U_X}  # for b = shard[[I_X, K]]
          b:f32[I_X, K] = shard[[I_X, K]] a':f32[I_X, K]
        in (b) }"
    `);
  });

  it("case 3: both sharded on the contracting dim along X — {U_X}, then AllReduce", () => {
    expect(
      printProgram(lower(matmul("A[I, J_X]", "B[J_X, K]", "[I, K]"), m)),
    ).toMatchInlineSnapshot(`
      "{ lambda A:f32[I, J_X] B:f32[J_X, K] .
          a:f32[I, K]{U_X} = einsum[IJ,JK->IK] A:f32[I, J_X] B:f32[J_X, K]
          a':f32[I, K] = AllReduce_X a:f32[I, K]{U_X}  # for b = shard[[I, K]]
          b:f32[I, K] = shard[[I, K]] a':f32[I, K]
        in (b) }"
    `);
  });

  it("case 3 scattered onto a free dim", () => {
    expect(
      printProgram(lower(matmul("A[I, J_X]", "B[J_X, K]", "[I, K_X]"), m)),
    ).toMatchInlineSnapshot(`
      "{ lambda A:f32[I, J_X] B:f32[J_X, K] .
          a:f32[I, K]{U_X} = einsum[IJ,JK->IK] A:f32[I, J_X] B:f32[J_X, K]
          a':f32[I, K_X] = ReduceScatter_X[K] a:f32[I, K]{U_X}  # for b = shard[[I, K_X]]
          b:f32[I, K_X] = shard[[I, K_X]] a':f32[I, K_X]
        in (b) }"
    `);
  });

  it("case 4: non-contracting dims of both operands on X — AllGather one", () => {
    expect(printProgram(lower(matmul("A[I_X, J]", "B[J, K_X]"), m))).toMatchInlineSnapshot(`
      "{ lambda A:f32[I_X, J] B:f32[J, K_X] .
          B':f32[J, K] = AllGather_X[K] B:f32[J, K_X]  # for a = einsum[IJ,JK->IK]
          a:f32[I_X, K] = einsum[IJ,JK->IK] A:f32[I_X, J] B':f32[J, K]
        in (a) }"
    `);
  });
});

describe("a gated MLP", () => {
  const sizes = { B: 8, D: 16, F: 32 };
  /** The DESIGN's MLP: constraints on the hidden activations and on the output. */
  function gatedMlp(x: string, win: string, wout: string, hidden: string, out: string) {
    return trace(
      (t) => {
        const h = mul(silu(einsum("BD,DF->BF", t.x, t.w1)), einsum("BD,DF->BF", t.x, t.w2));
        return shard(einsum("BF,FD->BD", shard(h, hidden), t.wout), out);
      },
      {
        x: tensor(x, "bf16"),
        w1: param(`Win1${win}`, "int8"),
        w2: param(`Win2${win}`, "int8"),
        wout: param(`Wout${wout}`, "int8"),
      },
      sizes,
    );
  }
  it("1D weight-stationary: Win[D, F_XY], one AllReduce of the output", () => {
    const program = gatedMlp("In[B, D]", "[D, F_XY]", "[F_XY, D]", "[B, F_XY]", "[B, D]");
    expect(printProgram(lower(program, mesh("v5e", { X: 2, Y: 2 })))).toMatchInlineSnapshot(`
      "{ lambda In:bf16[B, D] Win1:int8[D, F_XY] Win2:int8[D, F_XY] Wout:int8[F_XY, D] .
          a:bf16[D, F_XY] = astype[bf16] Win1:int8[D, F_XY]
          b:bf16[B, F_XY] = einsum[BD,DF->BF] In:bf16[B, D] a:bf16[D, F_XY]
          c:bf16[B, F_XY] = silu b:bf16[B, F_XY]
          d:bf16[D, F_XY] = astype[bf16] Win2:int8[D, F_XY]
          e:bf16[B, F_XY] = einsum[BD,DF->BF] In:bf16[B, D] d:bf16[D, F_XY]
          f:bf16[B, F_XY] = mul c:bf16[B, F_XY] e:bf16[B, F_XY]
          g:bf16[B, F_XY] = shard[[B, F_XY]] f:bf16[B, F_XY]
          h:bf16[F_XY, D] = astype[bf16] Wout:int8[F_XY, D]
          i:bf16[B, D]{U_XY} = einsum[BF,FD->BD] g:bf16[B, F_XY] h:bf16[F_XY, D]
          i':bf16[B, D] = AllReduce_XY i:bf16[B, D]{U_XY}  # for j = shard[[B, D]]
          j:bf16[B, D] = shard[[B, D]] i':bf16[B, D]
        in (j) }"
    `);
  });

  it("2D weight-stationary: Win[D_X, F_YZ], reduce over X, ReduceScatter over YZ", () => {
    const program = gatedMlp("In[B, D_X]", "[D_X, F_YZ]", "[F_YZ, D_X]", "[B, F_YZ]", "[B, D_XYZ]");
    expect(printProgram(lower(program, mesh("v5e", { X: 2, Y: 2, Z: 2 })))).toMatchInlineSnapshot(`
      "{ lambda In:bf16[B, D_X] Win1:int8[D_X, F_YZ] Win2:int8[D_X, F_YZ] Wout:int8[F_YZ, D_X] .
          a:bf16[D_X, F_YZ] = astype[bf16] Win1:int8[D_X, F_YZ]
          b:bf16[B, F_YZ]{U_X} = einsum[BD,DF->BF] In:bf16[B, D_X] a:bf16[D_X, F_YZ]
          b':bf16[B, F_YZ] = AllReduce_X b:bf16[B, F_YZ]{U_X}  # for c = silu
          c:bf16[B, F_YZ] = silu b':bf16[B, F_YZ]
          d:bf16[D_X, F_YZ] = astype[bf16] Win2:int8[D_X, F_YZ]
          e:bf16[B, F_YZ]{U_X} = einsum[BD,DF->BF] In:bf16[B, D_X] d:bf16[D_X, F_YZ]
          f:bf16[B, F_YZ]{U_X} = mul c:bf16[B, F_YZ] e:bf16[B, F_YZ]{U_X}
          f':bf16[B, F_YZ] = AllReduce_X f:bf16[B, F_YZ]{U_X}  # for g = shard[[B, F_YZ]]
          g:bf16[B, F_YZ] = shard[[B, F_YZ]] f':bf16[B, F_YZ]
          h:bf16[F_YZ, D_X] = astype[bf16] Wout:int8[F_YZ, D_X]
          i:bf16[B, D_X]{U_YZ} = einsum[BF,FD->BD] g:bf16[B, F_YZ] h:bf16[F_YZ, D_X]
          i':bf16[B, D_XYZ] = ReduceScatter_YZ[D] i:bf16[B, D_X]{U_YZ}  # for j = shard[[B, D_XYZ]]
          j:bf16[B, D_XYZ] = shard[[B, D_XYZ]] i':bf16[B, D_XYZ]
        in (j) }"
    `);
  });
});

describe("split keeps the axes that divide the major part", () => {
  it("N_XY → K_X, G when |X| divides K but |XY| does not: gather Y only", () => {
    const program = trace(
      (t) => split(t.q, "N", { K: 4, G: 2 }),
      { q: tensor("q[B, N_XY]", "f32") },
      {
        B: 2,
        N: 8,
      },
    );
    const m24 = mesh("v5e", { X: 2, Y: 4 });
    const check = assertSpmdEquivalent(program, m24);
    expect(printProgram(check.lowered)).toMatchInlineSnapshot(`
      "{ lambda q:f32[B, N_XY] .
          q':f32[B, N_X] = AllGather_Y[N] q:f32[B, N_XY]  # for a = split[N→K,G]
          a:f32[B, K_X, G] = split[N→K,G] q':f32[B, N_X]
        in (a) }"
    `);
  });
});

describe("flash attention keeps the KV cache where it is", () => {
  // Decode: q for B sequences, a KV cache split by batch (and by KV heads). Whatever q's own
  // layout, the cache must not move — q is sliced to match it (a replicated q costs nothing to
  // slice); gathering the cache would move S·K·H per sequence, every step.
  const dims = { B: 8, S: 64, K: 4, G: 2, H: 16 };
  const program = (qSpec: string, cacheSpec: string) =>
    trace(
      (t) => ({ o: shard(flashAttention(t.q, t.k, t.v, { key: "S", head: "H" }), qSpec) }),
      {
        q: tensor(`q${qSpec}`, "f32"),
        k: tensor(`k${cacheSpec}`, "f32", "cache"),
        v: tensor(`v${cacheSpec}`, "f32", "cache"),
      },
      dims,
    );
  it.each([
    ["[B, K, G, H]", "[B_X, S, K, H]"],
    ["[B, K, G, H]", "[B_X, S, K_Y, H]"],
    ["[B_Y, K, G, H]", "[B_X, S, K_Y, H]"],
    ["[B, K, G, H]", "[B, S_X, K, H]"],
  ])("q%s with a cache %s: no collective reads k or v", (q, cache) => {
    const m = mesh("v5e", { X: 2, Y: 2 });
    const check = assertSpmdEquivalent(program(q, cache), m);
    const cacheVars = new Set(
      check.lowered.inputs.filter((i) => i.path !== "q").map((i) => i.var.id),
    );
    const moved = check.lowered.eqns.filter(
      (e) =>
        ["all_gather", "all_to_all", "reduce_scatter", "all_reduce"].includes(e.primitive) &&
        e.inputs.some((a) => a.kind === "var" && cacheVars.has(a.id)),
    );
    expect(moved.map((e) => e.primitive)).toEqual([]);
  });
});

describe("a shard_slice fuses into the kernel that makes its operand", () => {
  it("tanh of a replicated x, constrained to [A_X, B]: one loop reads x once and writes a quarter", () => {
    const m = mesh("v5e", { X: 4 });
    const dims = { A: 1024, B: 512 };
    const program = trace((x) => shard(tanh(x), "[A_X, B]"), tensor("x[A, B]", "f32"), dims);
    const lowered = lower(program, m);
    expect(lowered.eqns.map((e) => e.primitive)).toContain("shard_slice");
    const est = estimateSpmd(lowered, m);
    // Fused: x read whole (f32), only this chip's quarter of tanh(x) written. Unfused, tanh
    // would write all of it and the slice read it back: 2 × 4 bytes × A·B more.
    const bytes = 4 * dims.A * dims.B;
    expect(est.totals.hbmBytes).toBe(bytes + bytes / 4);
  });
});

describe("partial sums are reduced in the precision they were accumulated in", () => {
  it("an f32 partial sum cast to bf16: the AllReduce moves f32, then the cast", () => {
    const m = mesh("v5e", { X: 4 });
    const program = trace(
      (t) => shard(astype(einsum("BD,DF->BF", t.x, t.w), "bf16"), "[B, F]"),
      { x: tensor("x[B, D_X]", "f32"), w: tensor("w[D_X, F]", "f32", "param") },
      { B: 8, D: 16, F: 32 },
    );
    const ops = lower(program, m).eqns.map((e) => `${e.primitive} ${e.outputs[0]!.aval.dtype}`);
    expect(ops.indexOf("all_reduce f32")).toBeGreaterThanOrEqual(0);
    expect(ops.indexOf("all_reduce f32")).toBeLessThan(ops.indexOf("astype bf16"));
  });
});
