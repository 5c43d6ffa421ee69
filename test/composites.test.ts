/** Composites in @shardcost/ops against loops written out here (f32, so rounding is tight). */
import { interpret, type NDArray, param, tensor, trace } from "@shardcost/core";
import {
  attention,
  flashAttention,
  gatedMlp,
  layernorm,
  rmsnorm,
  rope,
  softmax,
  split,
} from "@shardcost/ops";
import { describe, expect, it } from "vitest";
import { maxRelativeError, randomArray } from "./support/arrays.js";

const TOL = 1e-6;

function rows(data: ArrayLike<number>, width: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < data.length; i += width) out.push(Array.from(data).slice(i, i + width));
  return out;
}

describe("softmax", () => {
  it("rows sum to one, and the stable and textbook forms agree", () => {
    const [B, S] = [3, 7];
    const x = randomArray(B * S, 11, -5, 5);
    const run = (stable: boolean) =>
      interpret(
        trace((t) => softmax(t, "S", { stable }), tensor("x[B, S]", "f32"), { B, S }),
        { x },
      ).out!.data;
    const stable = run(true);
    for (const r of rows(stable, S))
      expect(Math.abs(r.reduce((a, b) => a + b) - 1)).toBeLessThan(TOL);
    expect(maxRelativeError(run(false), stable)).toBeLessThan(TOL);
  });
});

describe("norms", () => {
  const [B, D] = [2, 8];
  const x = randomArray(B * D, 3);
  const w = randomArray(D, 4);
  const b = randomArray(D, 5);

  it("rmsnorm = x / √(mean x² + eps) · w", () => {
    const program = trace(
      (t) => rmsnorm(t.x, t.w, "D"),
      { x: tensor("x[B, D]", "f32"), w: param("w[D]", "f32") },
      { B, D },
    );
    const expected = rows(x, D).flatMap((r) => {
      const ms = r.reduce((a, v) => a + v * v, 0) / D;
      return r.map((v, i) => (v / Math.sqrt(ms + 1e-5)) * w[i]!);
    });
    expect(maxRelativeError(interpret(program, { x, w }).out!.data, expected)).toBeLessThan(TOL);
  });

  it("layernorm = (x − μ) / √(σ² + eps) · w + b", () => {
    const program = trace(
      (t) => layernorm(t.x, t.w, t.b, "D"),
      { x: tensor("x[B, D]", "f32"), w: param("w[D]", "f32"), b: param("b[D]", "f32") },
      { B, D },
    );
    const expected = rows(x, D).flatMap((r) => {
      const mu = r.reduce((a, v) => a + v, 0) / D;
      const v2 = r.reduce((a, v) => a + (v - mu) ** 2, 0) / D;
      return r.map((v, i) => ((v - mu) / Math.sqrt(v2 + 1e-5)) * w[i]! + b[i]!);
    });
    expect(maxRelativeError(interpret(program, { x, w, b }).out!.data, expected)).toBeLessThan(TOL);
  });
});

describe("rope", () => {
  it("rotates each (x_i, x_{i+H/2}) pair by the position's angle", () => {
    const [T, H] = [3, 8];
    const half = H / 2;
    const x = randomArray(T * H, 6);
    const theta = Array.from(
      { length: T * half },
      (_, k) => (Math.floor(k / half) + 1) * 10000 ** (-(k % half) / half),
    );
    const sin = theta.map(Math.sin);
    const cos = theta.map(Math.cos);
    const program = trace(
      (t) => rope(t.x, { sin: t.sin, cos: t.cos }),
      {
        x: tensor("x[T, H]", "f32"),
        sin: tensor("sin[T, Hh]", "f32"),
        cos: tensor("cos[T, Hh]", "f32"),
      },
      { T, H, Hh: half },
    );
    const expected: number[] = [];
    for (let t = 0; t < T; t++) {
      const r = x.slice(t * H, (t + 1) * H);
      const c = (i: number) => cos[t * half + i]!;
      const s = (i: number) => sin[t * half + i]!;
      for (let i = 0; i < half; i++) expected.push(r[i]! * c(i) - r[i + half]! * s(i));
      for (let i = 0; i < half; i++) expected.push(r[i + half]! * c(i) + r[i]! * s(i));
    }
    const out = interpret(program, { x, sin, cos }).out!;
    expect(out.dims).toEqual(["T", "H"]);
    expect(maxRelativeError(out.data, expected)).toBeLessThan(TOL);
  });
});

describe("attention", () => {
  it("naive and flash attention agree under grouped-query heads", () => {
    const dims = { B: 2, T: 3, S: 5, K: 2, G: 2, N: 4, H: 4 };
    const inputs = {
      q: tensor("q[B, T, N, H]", "f32"),
      k: tensor("k[B, S, K, H]", "f32"),
      v: tensor("v[B, S, K, H]", "f32"),
    };
    const arrays = {
      q: randomArray(2 * 3 * 4 * 4, 7),
      k: randomArray(2 * 5 * 2 * 4, 8),
      v: randomArray(2 * 5 * 2 * 4, 9),
    };
    const opts = { query: "T", key: "S", head: "H" } as const;
    const naive = trace(
      (t) => attention(split(t.q, "N", { K: 2, G: 2 }), t.k, t.v, opts),
      inputs,
      dims,
    );
    const flash = trace(
      (t) => flashAttention(split(t.q, "N", { K: 2, G: 2 }), t.k, t.v, opts),
      inputs,
      dims,
    );
    const a: NDArray = interpret(naive, arrays).out!;
    const b: NDArray = interpret(flash, arrays).out!;
    expect(a.dims).toEqual(["B", "T", "K", "G", "H"]);
    expect(maxRelativeError(b.data, a.data)).toBeLessThan(TOL);
  });
});

describe("gated MLP", () => {
  it("computes (silu(x·Wg) ⊙ x·Wu)·Wd", () => {
    const [B, D, F] = [2, 3, 5];
    const x = randomArray(B * D, 1);
    const g = randomArray(D * F, 2);
    const u = randomArray(D * F, 3);
    const d = randomArray(F * D, 4);
    const program = trace(
      (t) => gatedMlp(t.x, t),
      {
        x: tensor("x[B, D]", "f32"),
        gate: param("g[D, F]", "f32"),
        up: param("u[D, F]", "f32"),
        down: param("d[F, D]", "f32"),
      },
      { B, D, F },
    );
    const expected: number[] = [];
    for (let bi = 0; bi < B; bi++) {
      const h = Array.from({ length: F }, (_, f) => {
        let a = 0;
        let c = 0;
        for (let di = 0; di < D; di++) {
          a += x[bi * D + di]! * g[di * F + f]!;
          c += x[bi * D + di]! * u[di * F + f]!;
        }
        return (a / (1 + Math.exp(-a))) * c;
      });
      for (let di = 0; di < D; di++)
        expected.push(h.reduce((acc, hv, f) => acc + hv * d[f * D + di]!, 0));
    }
    const out = interpret(program, { x, gate: g, up: u, down: d }).out!;
    expect(maxRelativeError(out.data, expected)).toBeLessThan(TOL);
  });
});
