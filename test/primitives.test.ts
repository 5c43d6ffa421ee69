/**
 * One table of primitive cases drives the shape rule (printed result type), the cost rule
 * (FLOPs, bytes read per operand, bytes written: from first principles on the case's dims) and
 * the numeric implementation (against a loop written out here).
 */
import {
  bind1,
  eqnCost,
  globalSizes,
  interpret,
  PRIMITIVES,
  Primitive,
  printType,
  type TensorSpec,
  type Tracer,
  tensor,
  trace,
} from "@shardcost/core";
import * as ops from "@shardcost/ops";
import { describe, expect, it } from "vitest";
import { maxRelativeError, randomArray } from "./support/arrays.js";

type Arrays = Record<string, Float64Array>;

interface Case {
  readonly primitive: Primitive;
  readonly name?: string;
  readonly dims: Record<string, number>;
  readonly inputs: Record<string, TensorSpec>;
  readonly op: (x: Record<string, Tracer>) => Tracer;
  readonly type: string;
  readonly flops: number;
  readonly transcendentals?: number;
  readonly reads: readonly number[];
  readonly writes: number;
  /** A written-out loop; absent for collectives, which only `simulate` runs (test/sharding). */
  readonly reference?: (a: Arrays) => ArrayLike<number>;
  /** Data range per input (default [-2, 2]); ids and positions get integer ranges. */
  readonly ranges?: Record<string, readonly [number, number]>;
}

const B = 2;
const D = 3;
const F = 4;
const f32 = (n: number) => 4 * n;

/** [B, D] row-major loops. */
function mapBD(f: (b: number, d: number) => number): number[] {
  const out: number[] = [];
  for (let b = 0; b < B; b++) for (let d = 0; d < D; d++) out.push(f(b, d));
  return out;
}

function unaryCase(
  primitive: Primitive,
  op: (x: Tracer) => Tracer,
  f: (x: number) => number,
  flopsPerElement: number,
  transcendental: number,
  range: readonly [number, number] = [-2, 2],
): Case {
  return {
    primitive,
    dims: { B, D },
    inputs: { x: tensor("x[B, D]", "f32") },
    op: (x) => op(x.x!),
    type: "f32[B, D]",
    flops: flopsPerElement * B * D,
    transcendentals: transcendental * B * D,
    reads: [f32(B * D)],
    writes: f32(B * D),
    reference: (a) => Array.from(a.x!, f),
    ranges: { x: range },
  };
}

function binaryCase(
  primitive: Primitive,
  op: (a: Tracer, b: Tracer) => Tracer,
  f: (a: number, b: number) => number,
): Case {
  return {
    primitive,
    dims: { B, D },
    inputs: { a: tensor("a[B, D]", "f32"), b: tensor("b[D]", "f32") },
    op: (x) => op(x.a!, x.b!),
    type: "f32[B, D]",
    flops: B * D,
    reads: [f32(B * D), f32(D)],
    writes: f32(B * D),
    reference: (a) => mapBD((i, j) => f(a.a![i * D + j]!, a.b![j]!)),
    ranges: { b: [0.5, 2] },
  };
}

function reduceCase(
  primitive: Primitive,
  op: (x: Tracer) => Tracer,
  init: number,
  f: (acc: number, x: number) => number,
  finish = (acc: number) => acc,
  perOutput = 0,
): Case {
  return {
    primitive,
    dims: { B, D },
    inputs: { x: tensor("x[B, D]", "f32") },
    op: (x) => op(x.x!),
    type: "f32[B]",
    flops: B * D + perOutput * B,
    reads: [f32(B * D)],
    writes: f32(B),
    reference: (a) =>
      Array.from({ length: B }, (_, b) => {
        let acc = init;
        for (let d = 0; d < D; d++) acc = f(acc, a.x![b * D + d]!);
        return finish(acc);
      }),
  };
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const gelu = (x: number) =>
  0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

function softmaxRows(scores: number[], width: number, scale: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < scores.length; r += width) {
    const row = scores.slice(r, r + width).map((s) => s * scale);
    const m = Math.max(...row);
    const e = row.map((s) => Math.exp(s - m));
    const total = e.reduce((x, y) => x + y, 0);
    out.push(...e.map((x) => x / total));
  }
  return out;
}

const S = 5;
const T = 2;
const H = 4;

/** A collective on a one-op program: its shape and cost rules; numerics need devices. */
function collectiveCase(
  primitive: Primitive,
  spec: string,
  params: object,
  type: string,
  flops = 0,
): Case {
  return {
    primitive,
    dims: { B: 4, D },
    inputs: { x: tensor(spec, "f32") },
    op: (x) => bind1(primitive, [x.x!], params as never),
    type,
    flops,
    reads: [f32(4 * D)],
    writes: f32(4 * D),
  };
}

const cases: Case[] = [
  {
    primitive: Primitive.Einsum,
    dims: { B, D, F },
    inputs: { x: tensor("x[B, D]", "f32"), w: tensor("w[D, F]", "f32") },
    op: (x) => ops.einsum("BD,DF->BF", x.x!, x.w!),
    type: "f32[B, F]",
    flops: 2 * B * D * F,
    reads: [f32(B * D), f32(D * F)],
    writes: f32(B * F),
    reference: (a) => {
      const out: number[] = [];
      for (let b = 0; b < B; b++) {
        for (let f = 0; f < F; f++) {
          let s = 0;
          for (let d = 0; d < D; d++) s += a.x![b * D + d]! * a.w![d * F + f]!;
          out.push(s);
        }
      }
      return out;
    },
  },
  unaryCase(Primitive.Exp, ops.exp, Math.exp, 1, 1),
  unaryCase(Primitive.Log, ops.log, Math.log, 1, 1, [0.1, 3]),
  unaryCase(Primitive.Tanh, ops.tanh, Math.tanh, 1, 1),
  unaryCase(Primitive.Rsqrt, ops.rsqrt, (x) => 1 / Math.sqrt(x), 1, 1, [0.1, 3]),
  unaryCase(Primitive.Neg, ops.neg, (x) => -x, 1, 0),
  unaryCase(Primitive.Silu, ops.silu, (x) => x * sigmoid(x), 4, 1),
  unaryCase(Primitive.Gelu, ops.gelu, gelu, 9, 1),
  {
    primitive: Primitive.Cast,
    dims: { B, D },
    inputs: { x: tensor("x[B, D]", "f32") },
    op: (x) => ops.astype(x.x!, "int8"),
    type: "int8[B, D]",
    flops: 0,
    reads: [f32(B * D)],
    writes: B * D,
    reference: (a) => Array.from(a.x!, (v) => Math.min(127, Math.max(-128, Math.round(v)))),
    ranges: { x: [-300, 300] },
  },
  binaryCase(Primitive.Add, ops.add, (a, b) => a + b),
  binaryCase(Primitive.Sub, ops.sub, (a, b) => a - b),
  binaryCase(Primitive.Mul, ops.mul, (a, b) => a * b),
  binaryCase(Primitive.Div, ops.div, (a, b) => a / b),
  binaryCase(Primitive.Max, ops.maximum, Math.max),
  reduceCase(
    Primitive.ReduceSum,
    (x) => ops.sum(x, "D"),
    0,
    (s, x) => s + x,
  ),
  reduceCase(Primitive.ReduceMax, (x) => ops.max(x, "D"), -Infinity, Math.max),
  reduceCase(
    Primitive.ReduceMean,
    (x) => ops.mean(x, "D"),
    0,
    (s, x) => s + x,
    (s) => s / D,
    1,
  ),
  {
    primitive: Primitive.Gather,
    dims: { B, D, V: 7 },
    inputs: { table: tensor("table[V, D]", "f32"), ids: tensor("ids[B]", "int32") },
    op: (x) => ops.gather(x.table!, x.ids!, "V"),
    type: "f32[B, D]",
    flops: 0,
    reads: [f32(B * D), 4 * B],
    writes: f32(B * D),
    reference: (a) => mapBD((b, d) => a.table![Math.round(a.ids![b]!) * D + d]!),
    ranges: { ids: [0, 6.4] },
  },
  {
    primitive: Primitive.DynamicSlice,
    dims: { S, D, T },
    inputs: { x: tensor("x[S, D]", "f32"), start: tensor("start[]", "int32") },
    op: (x) => ops.dynamicSlice(x.x!, "S", x.start!, { as: { dim: "T", size: T } }),
    type: "f32[T, D]",
    flops: 0,
    reads: [f32(T * D), 0],
    writes: f32(T * D),
    reference: (a) => {
      const start = Math.round(a.start![0]!);
      return Array.from(a.x!.slice(start * D, (start + T) * D));
    },
    ranges: { start: [1, 2.4] },
  },
  {
    primitive: Primitive.DynamicUpdateSlice,
    dims: { S, D },
    inputs: { cache: tensor("cache[S, D]", "f32", "cache"), u: tensor("u[D]", "f32") },
    op: (x) => ops.dynamicUpdateSlice(x.cache!, x.u!, "S", 3),
    type: "f32[S, D]",
    flops: 0,
    reads: [0, f32(D), 0],
    writes: f32(D),
    reference: (a) => {
      const out = Array.from(a.cache!);
      for (let d = 0; d < D; d++) out[3 * D + d] = a.u![d]!;
      return out;
    },
  },
  {
    primitive: Primitive.Rename,
    dims: { B, D, E: D },
    inputs: { x: tensor("x[B, D]", "f32") },
    op: (x) => ops.rename(x.x!, "D", "E"),
    type: "f32[B, E]",
    flops: 0,
    reads: [f32(B * D)],
    writes: f32(B * D),
    reference: (a) => a.x!,
  },
  {
    primitive: Primitive.Split,
    dims: { B, N: 6 },
    inputs: { x: tensor("x[B, N]", "f32") },
    op: (x) => ops.split(x.x!, "N", { K: 2, G: 3 }),
    type: "f32[B, K, G]",
    flops: 0,
    reads: [f32(B * 6)],
    writes: f32(B * 6),
    reference: (a) => a.x!,
  },
  {
    primitive: Primitive.Merge,
    dims: { B, K: 2, G: 3 },
    inputs: { x: tensor("x[B, K, G]", "f32") },
    op: (x) => ops.merge(x.x!, ["K", "G"], "N"),
    type: "f32[B, N]",
    flops: 0,
    reads: [f32(B * 6)],
    writes: f32(B * 6),
    reference: (a) => a.x!,
  },
  {
    primitive: Primitive.Concatenate,
    dims: { B, D, F, E: D + F },
    inputs: { a: tensor("a[B, D]", "f32"), b: tensor("b[B, F]", "f32") },
    op: (x) => ops.concatenate([x.a!, x.b!], "E", ["D", "F"]),
    type: "f32[B, E]",
    flops: 0,
    reads: [f32(B * D), f32(B * F)],
    writes: f32(B * (D + F)),
    reference: (a) => {
      const out: number[] = [];
      for (let b = 0; b < B; b++) {
        out.push(...a.a!.slice(b * D, (b + 1) * D), ...a.b!.slice(b * F, (b + 1) * F));
      }
      return out;
    },
  },
  {
    primitive: Primitive.FlashAttention,
    dims: { T, S, H },
    inputs: {
      q: tensor("q[T, H]", "f32"),
      k: tensor("k[S, H]", "f32"),
      v: tensor("v[S, H]", "f32"),
    },
    op: (x) => ops.flashAttention(x.q!, x.k!, x.v!, { query: "T", key: "S", head: "H" }),
    type: "f32[T, H]",
    flops: T * S * (4 * H + 5),
    transcendentals: T * S,
    reads: [f32(T * H), f32(S * H), f32(S * H)],
    writes: f32(T * H),
    reference: (a) => {
      const scores: number[] = [];
      for (let t = 0; t < T; t++) {
        for (let s = 0; s < S; s++) {
          let dot = 0;
          for (let h = 0; h < H; h++) dot += a.q![t * H + h]! * a.k![s * H + h]!;
          scores.push(dot);
        }
      }
      const p = softmaxRows(scores, S, 1 / Math.sqrt(H));
      const out: number[] = [];
      for (let t = 0; t < T; t++) {
        for (let h = 0; h < H; h++) {
          let acc = 0;
          for (let s = 0; s < S; s++) acc += p[t * S + s]! * a.v![s * H + h]!;
          out.push(acc);
        }
      }
      return out;
    },
  },
  {
    primitive: Primitive.Shard,
    dims: { B, D },
    inputs: { x: tensor("x[B, D]", "f32") },
    op: (x) => ops.shard(x.x!, "[B_X, D]"),
    type: "f32[B_X, D]",
    flops: 0,
    reads: [f32(B * D)],
    writes: f32(B * D),
    reference: (a) => a.x!,
  },
  collectiveCase(Primitive.AllGather, "x[B_X, D]", { dim: "B", axes: ["X"] }, "f32[B, D]"),
  collectiveCase(
    Primitive.ReduceScatter,
    "x[B, D]{U_X}",
    { dim: "B", axes: ["X"] },
    "f32[B_X, D]",
    4 * D,
  ),
  collectiveCase(Primitive.AllReduce, "x[B, D]{U_XY}", { axes: ["Y"] }, "f32[B, D]{U_X}", 4 * D),
  collectiveCase(
    Primitive.AllToAll,
    "x[B_X, D]",
    { from: "B", to: "D", axes: ["X"] },
    "f32[B, D_X]",
  ),
  collectiveCase(Primitive.ShardSlice, "x[B, D]", { dim: "D", axes: ["X"] }, "f32[B, D_X]"),
];

function run(c: Case) {
  const program = trace((x: Record<string, Tracer>) => c.op(x), c.inputs, c.dims);
  const eqn = program.eqns[program.eqns.length - 1]!;
  const arrays: Arrays = {};
  let seed = 1;
  for (const input of program.inputs) {
    const n = input.var.aval.dims.reduce((k, d) => k * program.dims[d.dim]!, 1);
    const [lo, hi] = c.ranges?.[input.path] ?? [-2, 2];
    const data = randomArray(n, seed++, lo, hi);
    if (input.var.aval.dtype === "int32")
      for (let i = 0; i < n; i++) data[i] = Math.round(data[i]!);
    if (input.var.aval.dtype === "f32") for (let i = 0; i < n; i++) data[i] = Math.fround(data[i]!);
    arrays[input.path] = data;
  }
  return { program, eqn, arrays };
}

describe.each(cases.map((c) => [c.name ?? c.primitive, c] as const))("%s", (_, c) => {
  it("shape rule: result type", () => {
    const { eqn } = run(c);
    expect(eqn.primitive).toBe(c.primitive);
    expect(printType(eqn.outputs[0]!.aval)).toBe(c.type);
  });

  it("cost rule: FLOPs, bytes read per operand, bytes written", () => {
    const { program, eqn } = run(c);
    const cost = eqnCost(eqn, globalSizes(program));
    expect(cost.flops).toBe(c.flops);
    expect(cost.transcendentals).toBe(c.transcendentals ?? 0);
    expect(cost.reads).toEqual(c.reads);
    expect(cost.writes).toEqual([c.writes]);
  });

  it("numeric rule: matches the written-out loop (f32, 1e-6 relative)", () => {
    const { program, arrays } = run(c);
    if (!c.reference) {
      expect(() => interpret(program, arrays)).toThrow(/run lowered programs with simulate\(\)/);
      return;
    }
    const out = interpret(program, arrays).out!;
    const expected = Array.from(c.reference(arrays), (v) => Math.fround(v));
    expect(maxRelativeError(out.data, expected)).toBeLessThan(1e-6);
  });
});

describe("the table", () => {
  it("covers every primitive", () => {
    const covered = new Set(cases.map((c) => c.primitive));
    expect(PRIMITIVES.filter((p) => !covered.has(p))).toEqual([]);
  });
});
