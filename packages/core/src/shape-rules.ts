import { aval, dimSharding, plainAval, withDtype } from "./aval.js";
import { type DType, isFloat } from "./dtype.js";
import type { Aval } from "./ir.js";
import type { DimSharding } from "./notation.js";
import {
  type BinaryPrimitive,
  type ParamsOf,
  Primitive,
  type ReducePrimitive,
  type UnaryPrimitive,
} from "./primitives.js";
import { RuleError } from "./rule-error.js";

/** An operand as a shape rule sees it: a typed value, or null for a scalar literal. */
export type OperandAval = Aval | null;

export interface ShapeContext {
  readonly dims: Readonly<Record<string, number>>;
}

/** Result avals from operand avals; throws RuleError on operands the op cannot take. */
export type ShapeRule<P extends Primitive> = (
  inputs: readonly OperandAval[],
  params: ParamsOf<P>,
  ctx: ShapeContext,
) => Aval[];

function value(inputs: readonly OperandAval[], i: number, what: string): Aval {
  const a = inputs[i];
  if (a === undefined) throw new RuleError("shape", `missing operand ${i + 1} (${what})`);
  if (a === null) throw new RuleError("shape", `operand ${i + 1} (${what}) must be a tensor`);
  return a;
}

function arity(inputs: readonly OperandAval[], n: number): void {
  if (inputs.length !== n) {
    throw new RuleError("shape", `expects ${n} operand(s), got ${inputs.length}`);
  }
}

function names(a: Aval): string[] {
  return a.dims.map((d) => d.dim);
}

function knownDim(ctx: ShapeContext, dim: string): number {
  const n = ctx.dims[dim];
  if (n === undefined) {
    throw new RuleError(
      "unknown-dim",
      `dim ${dim} has no size; add it to the dims dictionary (e.g. { ${dim}: 128 })`,
    );
  }
  return n;
}

function hasDim(a: Aval, dim: string, role: string): void {
  if (!a.dims.some((d) => d.dim === dim)) {
    throw new RuleError("unknown-dim", `${role} has no dim ${dim} (its dims are ${names(a)})`);
  }
}

function floatOnly(a: Aval, role: string): void {
  if (!isFloat(a.dtype)) {
    throw new RuleError(
      "dtype",
      `${role} is ${a.dtype}, which this op cannot take; cast it first with astype(x, "bf16")`,
    );
  }
}

function result(dtype: DType, dims: readonly string[]): Aval {
  return plainAval(dtype, dims);
}

/** A result with the dims of `a` (unsharded): shares `a`'s dims when they are. */
function like(dtype: DType, a: Aval): Aval {
  let plain = a.partial.length === 0;
  for (let i = 0; plain && i < a.dims.length; i++) plain = a.dims[i]!.axes.length === 0;
  return plain ? withDtype(a, dtype) : plainAval(dtype, names(a));
}

function sameDims(a: Aval, b: Aval): boolean {
  if (a.dims.length !== b.dims.length) return false;
  for (let i = 0; i < a.dims.length; i++) if (a.dims[i]!.dim !== b.dims[i]!.dim) return false;
  return true;
}

const unaryRule: ShapeRule<UnaryPrimitive> = (inputs) => {
  arity(inputs, 1);
  const x = value(inputs, 0, "x");
  floatOnly(x, "the operand");
  return [like(x.dtype, x)];
};

/** Broadcast by dim name: the result has every dim of either operand. */
const binaryRule: ShapeRule<BinaryPrimitive> = (inputs) => {
  arity(inputs, 2);
  const [a, b] = inputs;
  if (!a && !b) throw new RuleError("shape", "at least one operand must be a tensor");
  if (!a || !b) {
    const t = (a ?? b)!;
    return [like(t.dtype, t)];
  }
  if (a.dtype !== b.dtype) {
    throw new RuleError(
      "dtype",
      `operands have dtypes ${a.dtype} and ${b.dtype}; cast one with astype so they match`,
    );
  }
  if (sameDims(a, b)) return [like(a.dtype, a)];
  const an = names(a);
  const bn = names(b);
  const aHasAll = bn.every((d) => an.includes(d));
  const bHasAll = an.every((d) => bn.includes(d));
  const dims = aHasAll ? an : bHasAll ? bn : [...an, ...bn.filter((d) => !an.includes(d))];
  return [result(a.dtype, dims)];
};

const reduceRule: ShapeRule<ReducePrimitive> = (inputs, params) => {
  arity(inputs, 1);
  const x = value(inputs, 0, "x");
  if (params.dims.length === 0) throw new RuleError("shape", "names no dims to reduce over");
  for (const d of params.dims) hasDim(x, d, "the operand");
  return [
    result(
      x.dtype,
      names(x).filter((d) => !params.dims.includes(d)),
    ),
  ];
};

function parseCheck(spec: string, inputs: readonly OperandAval[], p: ParamsOf<Primitive.Einsum>) {
  if (p.inputs.length !== inputs.length) {
    throw new RuleError(
      "einsum",
      `spec ${spec} names ${p.inputs.length} operand(s) but ${inputs.length} were given`,
    );
  }
}

/**
 * Each primitive's shape rule: result types from operand types and params, or a typed error saying
 * why not (a total table).
 */
export const shapeRules: { readonly [P in Primitive]: ShapeRule<P> } = {
  [Primitive.Einsum]: (inputs, p, ctx) => {
    parseCheck(p.spec, inputs, p);
    const seen = new Set<string>();
    let dtype: DType | undefined;
    p.inputs.forEach((term, i) => {
      const a = value(inputs, i, `operand ${i + 1}`);
      if (a.dtype === "int32") {
        throw new RuleError("dtype", `operand ${i + 1} is int32; einsum takes float or int8/int4`);
      }
      if (dtype !== undefined && a.dtype !== dtype) {
        throw new RuleError(
          "dtype",
          `operands have dtypes ${dtype} and ${a.dtype}; cast one with astype ` +
            "(the einsum op does this for you)",
        );
      }
      dtype = a.dtype;
      const have = names(a);
      const missing = term.filter((d) => !have.includes(d));
      const extra = have.filter((d) => !term.includes(d));
      if (missing.length > 0 || extra.length > 0 || term.length !== have.length) {
        throw new RuleError(
          "einsum",
          `spec ${p.spec}: operand ${i + 1} is written ${term.join("")} but has dims ` +
            `[${have.join(", ")}]` +
            (missing.length ? `; it lacks ${missing.join(", ")}` : "") +
            (extra.length ? `; the spec omits ${extra.join(", ")}` : ""),
        );
      }
      for (const d of term) {
        knownDim(ctx, d);
        seen.add(d);
      }
    });
    const out = new Set<string>();
    for (const d of p.output) {
      if (!seen.has(d)) {
        throw new RuleError("einsum", `spec ${p.spec}: output dim ${d} is in no operand`);
      }
      if (out.has(d)) throw new RuleError("einsum", `spec ${p.spec}: output dim ${d} repeats`);
      out.add(d);
    }
    return [result(p.outDtype, p.output)];
  },
  [Primitive.Exp]: unaryRule,
  [Primitive.Log]: unaryRule,
  [Primitive.Tanh]: unaryRule,
  [Primitive.Rsqrt]: unaryRule,
  [Primitive.Neg]: unaryRule,
  [Primitive.Silu]: unaryRule,
  [Primitive.Gelu]: unaryRule,
  [Primitive.Cast]: (inputs, p) => {
    arity(inputs, 1);
    const x = value(inputs, 0, "x");
    return [like(p.dtype, x)];
  },
  [Primitive.Add]: binaryRule,
  [Primitive.Sub]: binaryRule,
  [Primitive.Mul]: binaryRule,
  [Primitive.Div]: binaryRule,
  [Primitive.Max]: binaryRule,
  [Primitive.ReduceSum]: reduceRule,
  [Primitive.ReduceMax]: reduceRule,
  [Primitive.ReduceMean]: (inputs, p, ctx) => {
    const [out] = reduceRule(inputs, p, ctx);
    floatOnly(value(inputs, 0, "x"), "the operand");
    return [out!];
  },
  [Primitive.Gather]: (inputs, p) => {
    arity(inputs, 2);
    const table = value(inputs, 0, "table");
    const ids = value(inputs, 1, "ids");
    hasDim(table, p.dim, "the table");
    if (ids.dtype !== "int32") {
      throw new RuleError("dtype", `ids are ${ids.dtype}; gather takes int32 ids`);
    }
    const rest = names(table).filter((d) => d !== p.dim);
    const clash = rest.filter((d) => names(ids).includes(d));
    if (clash.length > 0) {
      throw new RuleError("shape", `ids and table rows share dims ${clash}; rename one`);
    }
    return [result(table.dtype, [...names(ids), ...rest])];
  },
  [Primitive.DynamicSlice]: (inputs, p, ctx) => {
    arity(inputs, 2);
    const x = value(inputs, 0, "operand");
    hasDim(x, p.dim, "the operand");
    checkIndex(inputs[1]);
    const dims = names(x);
    if (p.outDim === null)
      return [
        result(
          x.dtype,
          dims.filter((d) => d !== p.dim),
        ),
      ];
    if (p.outDim !== p.dim && dims.includes(p.outDim)) {
      throw new RuleError("shape", `the operand already has a dim ${p.outDim}`);
    }
    if (knownDim(ctx, p.outDim) > knownDim(ctx, p.dim)) {
      throw new RuleError(
        "dim-size",
        `window ${p.outDim}=${ctx.dims[p.outDim]} is larger than ${p.dim}=${ctx.dims[p.dim]}`,
      );
    }
    return [
      result(
        x.dtype,
        dims.map((d) => (d === p.dim ? p.outDim! : d)),
      ),
    ];
  },
  [Primitive.DynamicUpdateSlice]: (inputs, p, ctx) => {
    arity(inputs, 3);
    const x = value(inputs, 0, "operand");
    const u = value(inputs, 1, "update");
    checkIndex(inputs[2]);
    hasDim(x, p.dim, "the operand");
    if (x.dtype !== u.dtype) {
      throw new RuleError(
        "dtype",
        `operand is ${x.dtype} but update is ${u.dtype}; cast the update`,
      );
    }
    const expected = names(x).flatMap((d) =>
      d === p.dim ? (p.updateDim === null ? [] : [p.updateDim]) : [d],
    );
    if (expected.join() !== names(u).join()) {
      throw new RuleError(
        "shape",
        `update dims [${names(u).join(", ")}] should be [${expected.join(", ")}]`,
      );
    }
    if (p.updateDim !== null && knownDim(ctx, p.updateDim) > knownDim(ctx, p.dim)) {
      throw new RuleError("dim-size", `update dim ${p.updateDim} is longer than ${p.dim}`);
    }
    return [result(x.dtype, names(x))];
  },
  [Primitive.Rename]: (inputs, p, ctx) => {
    arity(inputs, 1);
    const x = value(inputs, 0, "x");
    hasDim(x, p.from, "the operand");
    if (p.from !== p.to && names(x).includes(p.to)) {
      throw new RuleError("shape", `the operand already has a dim ${p.to}`);
    }
    if (knownDim(ctx, p.from) !== knownDim(ctx, p.to)) {
      throw new RuleError(
        "dim-size",
        `${p.from}=${ctx.dims[p.from]} and ${p.to}=${ctx.dims[p.to]} differ in size`,
      );
    }
    return [
      result(
        x.dtype,
        names(x).map((d) => (d === p.from ? p.to : d)),
      ),
    ];
  },
  [Primitive.Split]: (inputs, p, ctx) => {
    arity(inputs, 1);
    const x = value(inputs, 0, "x");
    hasDim(x, p.dim, "the operand");
    const product = p.into.reduce((n, d) => n * knownDim(ctx, d), 1);
    if (product !== knownDim(ctx, p.dim)) {
      throw new RuleError(
        "dim-size",
        `${p.dim}=${ctx.dims[p.dim]} cannot split into ` +
          `${p.into.map((d) => `${d}=${ctx.dims[d]}`).join(" × ")} (product ${product})`,
      );
    }
    const clash = p.into.filter((d) => d !== p.dim && names(x).includes(d));
    if (clash.length > 0) throw new RuleError("shape", `the operand already has dims ${clash}`);
    return [
      result(
        x.dtype,
        names(x).flatMap((d) => (d === p.dim ? p.into : [d])),
      ),
    ];
  },
  [Primitive.Merge]: (inputs, p, ctx) => {
    arity(inputs, 1);
    const x = value(inputs, 0, "x");
    const dims = names(x);
    const start = dims.indexOf(p.dims[0] ?? "");
    if (start < 0 || dims.slice(start, start + p.dims.length).join() !== p.dims.join()) {
      throw new RuleError(
        "shape",
        `dims ${p.dims.join(", ")} must be adjacent and in that order in [${dims.join(", ")}]`,
      );
    }
    const product = p.dims.reduce((n, d) => n * knownDim(ctx, d), 1);
    if (product !== knownDim(ctx, p.into)) {
      throw new RuleError(
        "dim-size",
        `${p.dims.join("×")} = ${product} but ${p.into}=${ctx.dims[p.into]}`,
      );
    }
    return [
      result(x.dtype, [...dims.slice(0, start), p.into, ...dims.slice(start + p.dims.length)]),
    ];
  },
  [Primitive.Concatenate]: (inputs, p, ctx) => {
    if (inputs.length < 1 || inputs.length !== p.inputDims.length) {
      throw new RuleError("shape", "needs one dim per operand");
    }
    const first = value(inputs, 0, "operand 1");
    const pattern = (a: Aval, d: string) =>
      names(a)
        .map((n) => (n === d ? "*" : n))
        .join();
    let total = 0;
    inputs.forEach((_, i) => {
      const a = value(inputs, i, `operand ${i + 1}`);
      const d = p.inputDims[i]!;
      hasDim(a, d, `operand ${i + 1}`);
      if (a.dtype !== first.dtype) throw new RuleError("dtype", "operands differ in dtype");
      if (pattern(a, d) !== pattern(first, p.inputDims[0]!)) {
        throw new RuleError("shape", `operand ${i + 1} differs in its other dims`);
      }
      total += knownDim(ctx, d);
    });
    if (total !== knownDim(ctx, p.dim)) {
      throw new RuleError("dim-size", `operands sum to ${total} along ${p.dim}=${ctx.dims[p.dim]}`);
    }
    return [
      result(
        first.dtype,
        names(first).map((n) => (n === p.inputDims[0] ? p.dim : n)),
      ),
    ];
  },
  [Primitive.FlashAttention]: (inputs, p) => {
    arity(inputs, 3);
    const q = value(inputs, 0, "q");
    const k = value(inputs, 1, "k");
    const v = value(inputs, 2, "v");
    for (const t of [q, k, v]) floatOnly(t, "q, k and v");
    if (p.query !== null) hasDim(q, p.query, "q");
    hasDim(q, p.head, "q");
    hasDim(k, p.key, "k");
    hasDim(k, p.head, "k");
    if (names(k).join() !== names(v).join() || k.dtype !== v.dtype || q.dtype !== k.dtype) {
      throw new RuleError("shape", "k and v must have the same dims and dtype as each other and q");
    }
    const missing = names(k).filter((d) => d !== p.key && !names(q).includes(d));
    if (missing.length > 0) {
      throw new RuleError("shape", `k has dims ${missing} that q lacks`);
    }
    const o = result(q.dtype, names(q));
    return p.stats
      ? [
          o,
          result(
            "f32",
            names(q).filter((d) => d !== p.head),
          ),
        ]
      : [o];
  },
  [Primitive.Shard]: (inputs, p) => {
    arity(inputs, 1);
    const x = value(inputs, 0, "x");
    const dims = p.sharding.dims;
    let same = dims.length === x.dims.length;
    for (let i = 0; same && i < dims.length; i++) same = dims[i]!.dim === x.dims[i]!.dim;
    if (!same) {
      const want = dims.map((d) => d.dim);
      throw new RuleError(
        "shape",
        `constraint dims [${want.join(", ")}] must be the operand's dims [${names(x).join(", ")}]`,
      );
    }
    return [aval(x.dtype, p.sharding.dims, p.sharding.partial)];
  },
  [Primitive.AllGather]: (inputs, p) => {
    arity(inputs, 1);
    const x = value(inputs, 0, "x");
    const parts = p.parts ?? [p];
    for (const part of parts) trailing(x, part.dim, part.axes);
    const drop = (d: DimSharding) => {
      const part = parts.find((q) => q.dim === d.dim);
      return part ? d.axes.slice(0, d.axes.length - part.axes.length) : d.axes;
    };
    return [withAxes(x, drop, x.partial)];
  },
  [Primitive.ReduceScatter]: (inputs, p) => {
    arity(inputs, 1);
    const x = value(inputs, 0, "x");
    pending(x, p.axes);
    hasDim(x, p.dim, "the operand");
    const partial = x.partial.filter((a) => !p.axes.includes(a));
    return [withAxes(x, (d) => (d.dim === p.dim ? [...d.axes, ...p.axes] : d.axes), partial)];
  },
  [Primitive.AllReduce]: (inputs, p) => {
    arity(inputs, 1);
    const x = value(inputs, 0, "x");
    // A max combines per-device values that are not partial sums.
    if (p.op !== "max") pending(x, p.axes);
    return [
      withAxes(
        x,
        (d) => d.axes,
        x.partial.filter((a) => !p.axes.includes(a)),
      ),
    ];
  },
  [Primitive.AllToAll]: (inputs, p) => {
    arity(inputs, 1);
    const x = value(inputs, 0, "x");
    trailing(x, p.from, p.axes);
    hasDim(x, p.to, "the operand");
    return [
      withAxes(
        x,
        (d) =>
          d.dim === p.from
            ? d.axes.slice(0, d.axes.length - p.axes.length)
            : d.dim === p.to
              ? [...d.axes, ...p.axes]
              : d.axes,
        x.partial,
      ),
    ];
  },
  [Primitive.ShardSlice]: (inputs, p) => {
    arity(inputs, 1);
    const x = value(inputs, 0, "x");
    hasDim(x, p.dim, "the operand");
    unused(x, p.axes);
    return [withAxes(x, (d) => (d.dim === p.dim ? [...d.axes, ...p.axes] : d.axes), x.partial)];
  },
};

function withAxes(
  a: Aval,
  f: (d: DimSharding) => readonly string[],
  partial: readonly string[],
): Aval {
  return aval(
    a.dtype,
    a.dims.map((d) => dimSharding(d.dim, f(d))),
    partial,
  );
}

function trailing(a: Aval, dim: string, axes: readonly string[]): void {
  const d = a.dims.find((x) => x.dim === dim);
  if (!d) throw new RuleError("unknown-dim", `the operand has no dim ${dim}`);
  const tail = d.axes.slice(d.axes.length - axes.length);
  if (axes.length === 0 || tail.join() !== axes.join()) {
    throw new RuleError(
      "shape",
      `dim ${dim} is split over [${d.axes.join("")}], which does not end in ${axes.join("")}`,
    );
  }
}

function pending(a: Aval, axes: readonly string[]): void {
  const missing = axes.filter((x) => !a.partial.includes(x));
  if (axes.length === 0 || missing.length > 0) {
    throw new RuleError("shape", `the operand holds no partial sums over ${missing.join("")}`);
  }
}

function unused(a: Aval, axes: readonly string[]): void {
  const used = new Set([...a.dims.flatMap((d) => d.axes), ...a.partial]);
  const clash = axes.filter((x) => used.has(x));
  if (clash.length > 0) throw new RuleError("shape", `mesh axis ${clash.join("")} is in use`);
}

function checkIndex(a: OperandAval | undefined): void {
  if (a === undefined) throw new RuleError("shape", "missing the index operand");
  if (a !== null && (a.dtype !== "int32" || a.dims.length > 0)) {
    throw new RuleError("dtype", "the index must be an int32 scalar or a number");
  }
}
