import { estimate, interpret, param, roundBf16, tensor, trace } from "@shardcost/core";
import { add, einsum, exp } from "@shardcost/ops";
import { describe, expect, it } from "vitest";

describe("interpret", () => {
  it("emulates bf16: 8 significant bits, ties to even", () => {
    // 1 + 2^-8 lies halfway between 1 and the next bf16 (1 + 2^-7): ties go to even, i.e. 1.
    const program = trace((t) => add(t.a, t.b), { a: tensor("a[N]"), b: tensor("b[N]") }, { N: 3 });
    const out = interpret(program, { a: [1, 1, 256], b: [2 ** -8, 3 * 2 ** -8, 1] }).out!;
    expect(Array.from(out.data)).toEqual([1, 1 + 2 ** -6, 256]);
    const f32 = trace(
      (t) => add(t.a, t.b),
      { a: tensor("a[N]", "f32"), b: tensor("b[N]", "f32") },
      { N: 1 },
    );
    expect(interpret(f32, { a: [1], b: [2 ** -8] }).out!.data[0]).toBe(1 + 2 ** -8);
  });

  it("rounds inputs to their dtype and keeps bit patterns in bf16 range", () => {
    for (const x of [Math.PI, -1e-3, 65504.7, 3.3e38]) {
      const r = roundBf16(x);
      expect(Math.abs(r - x) / Math.abs(x)).toBeLessThanOrEqual(2 ** -8);
      const bits = new Uint32Array(new Float32Array([r]).buffer)[0]!;
      expect(bits & 0xffff).toBe(0);
    }
  });

  it("runs a program on named-dim arrays and checks input sizes", () => {
    const program = trace(
      (t) => exp(einsum("BD,DF->BF", t.x, t.w)),
      { x: tensor("x[B, D]", "f32"), w: param("w[D, F]", "f32") },
      { B: 1, D: 2, F: 2 },
    );
    const out = interpret(program, { x: [1, 2], w: [1, 0, 0, 1] }).out!;
    expect(out.dims).toEqual(["B", "F"]);
    expect(Array.from(out.data)).toEqual([Math.fround(Math.E), Math.fround(Math.exp(2))]);
    expect(() => interpret(program, { x: [1, 2, 3], w: [1, 0, 0, 1] })).toThrow(
      /input x has 3 values but \[B, D\] = \[1, 2\] holds 2/,
    );
    expect(() => interpret(program, { x: [1, 2] })).toThrow(/no array given for input w/);
  });
});

describe("memory from liveness", () => {
  it("counts parameters and caches once and activations while live", () => {
    const [B, D, F] = [4, 8, 64];
    const program = trace(
      (t) => einsum("BF,FD->BD", einsum("BD,DF->BF", t.x, t.w1), t.w2),
      { x: tensor("x[B, D]", "f32"), w1: param("w1[D, F]", "f32"), w2: param("w2[F, D]", "f32") },
      { B, D, F },
    );
    const m = estimate(program, "v5e").memory;
    expect(m.paramBytes).toBe(2 * 4 * D * F);
    expect(m.cacheBytes).toBe(0);
    // Kernel 1 holds x and h; kernel 2 holds h and the output: h dominates both.
    const x = 4 * B * D;
    const h = 4 * B * F;
    const out = 4 * B * D;
    expect(m.activationBytes).toBe(Math.max(x + h, h + out));
    expect(m.totalBytes).toBe(m.paramBytes + m.activationBytes);
    expect(m.fits).toBe(true);
  });
});
