/**
 * Random programs over the whole traceable primitive set, for properties of the sharding rules:
 * every primitive a model can trace (einsum, the unary and binary elementwise ops, casts,
 * reductions, gather, dynamic slices and updates, rename, split, merge, concatenate, flash
 * attention, constraints), with operands sharded at random and partial sums `{U_X}` steered
 * into each op. Recipes are plain data: a failing one prints, and `buildProgram(recipe)`
 * replays it in a test.
 */
import {
  type DimSharding,
  type DType,
  isCollective,
  Primitive,
  type Program,
  printSharding,
  type TensorSpec,
  type Tracer,
  tensor,
  trace,
  type Var,
} from "@shardcost/core";
import {
  add,
  astype,
  concatenate,
  div,
  dynamicSlice,
  dynamicUpdateSlice,
  einsum,
  exp,
  flashAttention,
  gather,
  gelu,
  log,
  max,
  maximum,
  mean,
  merge,
  mul,
  neg,
  rename,
  rsqrt,
  shard,
  silu,
  split,
  sub,
  sum,
  tanh,
} from "@shardcost/ops";
import fc from "fast-check";
import type { Mesh } from "./mesh.js";

/** The unary ops a generated program may apply. */
export type UnaryFn = "exp" | "log" | "tanh" | "rsqrt" | "neg" | "silu" | "gelu";
/** The binary ops a generated program may apply. */
export type BinaryFn = "add" | "sub" | "mul" | "div" | "max";

/** One step applied to the running value `v`; inputs a step needs are declared by it. */
export type ProgramStep =
  | {
      readonly op: "einsum";
      readonly contract: string;
      readonly produce: string;
      readonly w: readonly DimSharding[];
      /** Constrain `v` first so that the contracted dim is split like `w`'s: a partial sum. */
      readonly before?: readonly DimSharding[];
    }
  | { readonly op: "unary"; readonly fn: UnaryFn }
  | { readonly op: "cast"; readonly dtype: DType }
  | {
      readonly op: "binary";
      readonly fn: BinaryFn;
      readonly y: readonly DimSharding[];
      /** `y op v` instead of `v op y`. */
      readonly swap: boolean;
      /**
       * The other operand is itself a partial sum: `y` gets one more dim, split over `axis`,
       * contracted away with a vector `z` split the same way.
       */
      readonly yPartial?: { readonly dim: string; readonly axis: string };
    }
  | { readonly op: "reduce"; readonly fn: "sum" | "max" | "mean"; readonly dim: string }
  | { readonly op: "gather"; readonly dim: string; readonly ids: readonly DimSharding[] }
  | { readonly op: "slice"; readonly dim: string; readonly window?: string }
  | {
      readonly op: "update";
      readonly dim: string;
      readonly u: readonly DimSharding[];
      readonly updateDim?: string;
    }
  | { readonly op: "rename"; readonly from: string; readonly to: string }
  | { readonly op: "split"; readonly dim: string; readonly into: readonly [string, string] }
  | { readonly op: "merge"; readonly dims: readonly [string, string]; readonly into: string }
  | {
      readonly op: "concat";
      readonly dim: string;
      readonly into: string;
      readonly y: readonly DimSharding[];
    }
  | {
      readonly op: "flash";
      readonly head: string;
      readonly key: string;
      readonly kv: readonly DimSharding[];
    }
  | { readonly op: "shard"; readonly spec: readonly DimSharding[] };

/** A generated program before it is built: dims, inputs with shardings, and steps. */
export interface ProgramRecipe {
  /** Every dim's size, the fresh dims steps introduce included. */
  readonly sizes: Readonly<Record<string, number>>;
  readonly x: readonly DimSharding[];
  readonly steps: readonly ProgramStep[];
  readonly out: readonly DimSharding[];
}

/** The primitives `programArb` traces (collectives come from lowering them). */
export const PROGRAM_PRIMITIVES: readonly Primitive[] = [
  Primitive.Einsum,
  Primitive.Exp,
  Primitive.Log,
  Primitive.Tanh,
  Primitive.Rsqrt,
  Primitive.Neg,
  Primitive.Silu,
  Primitive.Gelu,
  Primitive.Cast,
  Primitive.Add,
  Primitive.Sub,
  Primitive.Mul,
  Primitive.Div,
  Primitive.Max,
  Primitive.ReduceSum,
  Primitive.ReduceMax,
  Primitive.ReduceMean,
  Primitive.Gather,
  Primitive.DynamicSlice,
  Primitive.DynamicUpdateSlice,
  Primitive.Rename,
  Primitive.Split,
  Primitive.Merge,
  Primitive.Concatenate,
  Primitive.FlashAttention,
  Primitive.Shard,
];

const POOL = ["A", "B", "C", "D", "E"] as const;
const UNARY: readonly UnaryFn[] = ["exp", "log", "tanh", "rsqrt", "neg", "silu", "gelu"];
const BINARY: readonly BinaryFn[] = ["add", "sub", "mul", "div", "max"];
/** Casts among float types whose rounding the tolerance covers. */
const CASTS: readonly DType[] = ["f32", "bf16", "f16"];
const STEP_KINDS = [
  "einsum",
  "partial",
  "unary",
  "cast",
  "binary",
  "reduce",
  "gather",
  "slice",
  "update",
  "rename",
  "split",
  "merge",
  "concat",
  "flash",
  "shard",
] as const;

/** A small deterministic generator (fast-check shrinks its seed and the step count). */
class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 1;
  }
  next(): number {
    this.s = (Math.imul(this.s, 1664525) + 1013904223) >>> 0;
    return this.s / 2 ** 32;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
}

/** A random valid sharding of `dims` on `m` (an axis on one dim at most, sizes dividing). */
function randomSharding(
  rng: Rng,
  dims: readonly string[],
  sizes: Readonly<Record<string, number>>,
  m: Mesh,
): DimSharding[] {
  const out = dims.map((dim): DimSharding => ({ dim, axes: [] }));
  for (const axis of m.axes) {
    const owner = rng.int(dims.length + 1);
    if (owner >= dims.length) continue;
    const d = out[owner]!;
    const product = [...d.axes, axis.name].reduce(
      (n, a) => n * m.axes.find((x) => x.name === a)!.size,
      1,
    );
    if (sizes[d.dim]! % product === 0) out[owner] = { dim: d.dim, axes: [...d.axes, axis.name] };
  }
  return out;
}

/** What the generator knows of the running value: dims, dtype, sign and a magnitude bound. */
interface ValueState {
  dims: string[];
  dtype: DType;
  positive: boolean;
  bound: number;
}

/**
 * Generates one recipe from a seed: `steps` steps, each chosen among those valid for the running
 * value (dims, dtype, sign — log, rsqrt and division by the value need it positive — and
 * magnitude: exp only of bounded values).
 */
export function generateProgram(m: Mesh, seed: number, steps: number): ProgramRecipe {
  const rng = new Rng(seed);
  const sizes: Record<string, number> = {};
  for (const d of POOL) sizes[d] = rng.pick([2, 4, 6, 8]);
  let fresh = 0;
  const freshDim = (size: number) => {
    const name = `N${fresh++}`;
    sizes[name] = size;
    return name;
  };
  const rank = 2 + rng.int(2);
  const v: ValueState = {
    dims: POOL.slice(0, rank),
    dtype: "f32",
    positive: true,
    bound: 1.5,
  };
  const x = randomSharding(rng, v.dims, sizes, m);
  const out: ProgramStep[] = [];
  const shardOf = (dims: readonly string[]) => randomSharding(rng, dims, sizes, m);
  /** An einsum contracting one of v's dims; `partial`: split in both operands, so `{U_…}`. */
  const contract = (partial: boolean) => {
    const unused = POOL.filter((d) => !v.dims.includes(d));
    if (unused.length === 0 || v.dtype !== "f32") return;
    // A partial sum contracts the smallest dim an axis divides (its values stay small, so exp
    // and softmax may still follow); a plain einsum any dim.
    const splittable = (d: string) => m.axes.some((a) => a.size > 1 && sizes[d]! % a.size === 0);
    const candidates = partial ? v.dims.filter(splittable) : v.dims;
    if (candidates.length === 0) return;
    const smallest = Math.min(...candidates.map((d) => sizes[d]!));
    const dim = partial
      ? rng.pick(candidates.filter((d) => sizes[d] === smallest))
      : rng.pick(candidates);
    const at = v.dims.indexOf(dim);
    const produce = rng.pick(unused);
    const w = shardOf([dim, produce]);
    let before: DimSharding[] | undefined;
    if (partial) {
      const axes = m.axes.filter((a) => a.size > 1 && sizes[dim]! % a.size === 0);
      const axis = rng.pick(axes).name;
      before = v.dims.map((d) => ({ dim: d, axes: d === dim ? [axis] : [] }));
      w.splice(0, 2, { dim, axes: [axis] }, { dim: produce, axes: [] });
    }
    out.push({ op: "einsum", contract: dim, produce, w, ...(before ? { before } : {}) });
    v.bound *= 1.5 * sizes[dim]!;
    v.dims[at] = produce;
  };
  for (let i = 0; i < steps; i++) {
    const kind = rng.pick(STEP_KINDS);
    // A third of the other steps take a fresh partial sum: every rule meets `{U_…}`.
    if (kind !== "einsum" && kind !== "partial" && kind !== "cast" && rng.next() < 0.35) {
      contract(true);
    }
    const at = rng.int(v.dims.length);
    const dim = v.dims[at]!;
    switch (kind) {
      case "einsum":
      case "partial":
        contract(kind === "partial");
        break;
      case "unary": {
        const fn = rng.pick(UNARY);
        if ((fn === "log" || fn === "rsqrt") && !v.positive) break;
        // exp turns an argument's rounding error into a relative one: only of bounded f32.
        if (fn === "exp" && (v.bound > 12 || v.dtype !== "f32")) break;
        out.push({ op: "unary", fn });
        if (fn === "exp") {
          v.bound = Math.exp(v.bound);
          v.positive = true;
        } else if (fn === "log") {
          v.bound = Math.max(Math.abs(Math.log(v.bound)), 20);
          v.positive = false;
        } else if (fn === "rsqrt") {
          v.bound = 100;
        } else if (fn === "neg") {
          v.positive = false;
        } else if (fn === "tanh") {
          v.bound = 1;
        }
        break;
      }
      case "cast": {
        // f16 tops out at 65504: only values known to fit.
        const dtype = rng.pick(
          CASTS.filter((d) => d !== v.dtype && (d !== "f16" || v.bound < 6e4)),
        );
        out.push({ op: "cast", dtype });
        v.dtype = dtype;
        break;
      }
      case "binary": {
        const fn = rng.pick(BINARY);
        const swap = rng.next() < 0.5;
        // Division by the running value needs it away from zero.
        if (fn === "div" && swap && !v.positive) break;
        // The other operand has all of the value's dims, or all but one (broadcast).
        const ydims =
          rng.next() < 0.5 || v.dims.length === 1 ? [...v.dims] : v.dims.filter((d) => d !== dim);
        const axes = m.axes.filter((a) => a.size > 1);
        if (axes.length > 0 && rng.next() < 0.4 && !(fn === "div" && !swap)) {
          // Two partial sums meet (a partial denominator only when the value is the numerator).
          const axis = rng.pick(axes);
          const k = freshDim(axis.size * rng.pick([1, 2]));
          const y = shardOf(ydims).map((d) => ({
            dim: d.dim,
            axes: d.axes.filter((a) => a !== axis.name),
          }));
          out.push({
            op: "binary",
            fn,
            y: [...y, { dim: k, axes: [axis.name] }],
            swap,
            yPartial: { dim: k, axis: axis.name },
          });
        } else {
          out.push({ op: "binary", fn, y: shardOf(ydims), swap });
        }
        if (fn === "sub") v.positive = false;
        const last = out[out.length - 1];
        const y =
          last?.op === "binary" && last.yPartial ? 1.5 * 1.5 * sizes[last.yPartial.dim]! : 1.5;
        v.bound = fn === "div" ? (v.bound + y) * 4 : fn === "mul" ? v.bound * y : v.bound + y;
        break;
      }
      case "reduce": {
        if (v.dims.length < 2) break;
        const fn = rng.pick(["sum", "max", "mean"] as const);
        out.push({ op: "reduce", fn, dim });
        if (fn === "sum") v.bound *= sizes[dim]!;
        v.dims.splice(at, 1);
        break;
      }
      case "gather": {
        if (sizes[dim]! < 2) break;
        const idsDim = freshDim(rng.pick([2, 4]));
        out.push({ op: "gather", dim, ids: shardOf([idsDim]) });
        v.dims.splice(at, 1);
        v.dims.unshift(idsDim);
        break;
      }
      case "slice": {
        if (sizes[dim]! < 2) break;
        if (rng.next() < 0.5 && v.dims.length > 1) {
          out.push({ op: "slice", dim });
          v.dims.splice(at, 1);
        } else {
          const window = freshDim(Math.floor(sizes[dim]! / 2));
          out.push({ op: "slice", dim, window });
          v.dims[at] = window;
        }
        break;
      }
      case "update": {
        if (sizes[dim]! < 2) break;
        if (rng.next() < 0.5) {
          out.push({ op: "update", dim, u: shardOf(v.dims.filter((d) => d !== dim)) });
        } else {
          const updateDim = freshDim(Math.floor(sizes[dim]! / 2));
          const udims = v.dims.map((d) => (d === dim ? updateDim : d));
          out.push({ op: "update", dim, u: shardOf(udims), updateDim });
        }
        v.bound += 1.5; // the update's values are positive, like the inputs
        break;
      }
      case "rename": {
        const to = freshDim(sizes[dim]!);
        out.push({ op: "rename", from: dim, to });
        v.dims[at] = to;
        break;
      }
      case "split": {
        const n = sizes[dim]!;
        if (n < 4 || n % 2 !== 0) break;
        const into: [string, string] = [freshDim(2), freshDim(n / 2)];
        out.push({ op: "split", dim, into });
        v.dims.splice(at, 1, ...into);
        break;
      }
      case "merge": {
        if (v.dims.length < 2 || v.dims.length > 3) break;
        const j = at === v.dims.length - 1 ? at - 1 : at;
        const dims: [string, string] = [v.dims[j]!, v.dims[j + 1]!];
        const into = freshDim(sizes[dims[0]]! * sizes[dims[1]]!);
        out.push({ op: "merge", dims, into });
        v.dims.splice(j, 2, into);
        break;
      }
      case "concat": {
        const into = freshDim(2 * sizes[dim]!);
        out.push({ op: "concat", dim, into, y: shardOf(v.dims) });
        v.dims[at] = into;
        break;
      }
      case "flash": {
        // A softmax of large scores turns f32 rounding into relative error, as exp does.
        if (v.dtype !== "f32" || v.bound > 12) break;
        // q = v with `dim` as the head dim; k and v over a fresh key dim, that head dim and
        // perhaps one more of q's dims (a batch-like dim).
        const key = freshDim(rng.pick([2, 4, 8]));
        const other = v.dims.filter((d) => d !== dim);
        const extra = other.length > 0 && rng.next() < 0.5 ? [rng.pick(other)] : [];
        out.push({ op: "flash", head: dim, key, kv: shardOf([key, dim, ...extra]) });
        v.bound = 1.5;
        break;
      }
      case "shard":
        out.push({ op: "shard", spec: shardOf(v.dims) });
        break;
      default:
        kind satisfies never;
    }
    if (v.dims.length > 3) {
      // Keep values small: merge the first two dims back.
      const dims: [string, string] = [v.dims[0]!, v.dims[1]!];
      const into = freshDim(sizes[dims[0]]! * sizes[dims[1]]!);
      out.push({ op: "merge", dims, into });
      v.dims.splice(0, 2, into);
    }
  }
  if (v.dtype !== "f32") out.push({ op: "cast", dtype: "f32" });
  return { sizes: { ...sizes }, x, steps: out, out: shardOf(v.dims) };
}

/** Recipes of up to `maxSteps` steps on `m`. */
export function programArb(m: Mesh, options: { maxSteps?: number } = {}) {
  const { maxSteps = 6 } = options;
  return fc
    .record({
      seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
      steps: fc.integer({ min: 1, max: maxSteps }),
    })
    .map(({ seed, steps }) => generateProgram(m, seed, steps));
}

const spec = (name: string, dims: readonly DimSharding[]) =>
  printSharding({ name, dims, partial: [] });

/** Whether a recipe casts to a type coarser than f32 (its numerics then round). */
export function rounds(recipe: ProgramRecipe): boolean {
  return recipe.steps.some((s) => s.op === "cast" && s.dtype !== "f32");
}

/**
 * The relative tolerance a recipe's outputs are compared with: f32 sums in another order differ
 * by ~1e-7, which cancellation (values of both signs after log, sub or neg, summed) can lift
 * to ~1e-4 of a small output; bf16/f16 casts round at 1e-3..4e-3 per op (an ulp of an operand
 * near 1 is 8e-3 of a small difference). A wrong rule is off by far more (a missing or doubled partial sum is off by a factor of the axis size).
 */
export function tolerance(recipe: ProgramRecipe): number {
  const signs = recipe.steps.some(
    (s) =>
      (s.op === "unary" && (s.fn === "log" || s.fn === "neg")) ||
      (s.op === "binary" && s.fn === "sub"),
  );
  if (rounds(recipe)) return signs ? 1e-1 : 3e-2;
  return signs ? 1e-3 : 1e-5;
}

/** Traces a recipe: x, each step on the running value, then the final constraint. */
export function buildProgram(recipe: ProgramRecipe): Program {
  const inputs: Record<string, TensorSpec> = { x: tensor(spec("x", recipe.x), "f32") };
  // Inputs are declared in f32 and cast to the running dtype where a step needs it.
  recipe.steps.forEach((s, i) => {
    if (s.op === "einsum") inputs[`w${i}`] = tensor(spec(`w${i}`, s.w), "f32", "param");
    if (s.op === "binary" || s.op === "concat") inputs[`y${i}`] = tensor(spec(`y${i}`, s.y), "f32");
    if (s.op === "binary" && s.yPartial) {
      const z = [{ dim: s.yPartial.dim, axes: [s.yPartial.axis] }];
      inputs[`z${i}`] = tensor(spec(`z${i}`, z), "f32");
    }
    if (s.op === "update") inputs[`u${i}`] = tensor(spec(`u${i}`, s.u), "f32");
    if (s.op === "gather") inputs[`ids${i}`] = tensor(spec(`ids${i}`, s.ids), "int32");
    if (s.op === "slice" || s.op === "update") inputs[`pos${i}`] = tensor(`pos${i}[]`, "int32");
    if (s.op === "flash") {
      inputs[`k${i}`] = tensor(spec(`k${i}`, s.kv), "f32", "cache");
      inputs[`v${i}`] = tensor(spec(`v${i}`, s.kv), "f32", "cache");
    }
  });
  return trace(
    (t: Record<string, Tracer>) => {
      let v = t.x!;
      const like = (y: Tracer) => (y.dtype === v.dtype ? y : astype(y, v.dtype));
      recipe.steps.forEach((s, i) => {
        switch (s.op) {
          case "einsum": {
            if (s.before) v = shard(v, spec("", s.before));
            const w = like(t[`w${i}`]!);
            const outDims = v.dims.map((d) => (d === s.contract ? s.produce : d));
            v = einsum(`${v.dims.join(" ")}, ${w.dims.join(" ")} -> ${outDims.join(" ")}`, v, w);
            break;
          }
          case "unary":
            v = { exp, log, tanh, rsqrt, neg, silu, gelu }[s.fn](v);
            break;
          case "cast":
            v = astype(v, s.dtype);
            break;
          case "binary": {
            let y = t[`y${i}`]!;
            if (s.yPartial) {
              const k = s.yPartial.dim;
              const rest = y.dims.filter((d) => d !== k);
              y = einsum(`${y.dims.join(" ")}, ${k} -> ${rest.join(" ")}`, y, t[`z${i}`]!);
            }
            y = like(y);
            const f = { add, sub, mul, div, max: maximum }[s.fn];
            v = s.swap ? f(y, v) : f(v, y);
            break;
          }
          case "reduce":
            v = { sum, max, mean }[s.fn](v, s.dim);
            break;
          case "gather":
            v = gather(v, t[`ids${i}`]!, s.dim);
            break;
          case "slice":
            v = dynamicSlice(
              v,
              s.dim,
              t[`pos${i}`]!,
              s.window ? { as: { dim: s.window, size: recipe.sizes[s.window]! } } : {},
            );
            break;
          case "update":
            v = dynamicUpdateSlice(v, like(t[`u${i}`]!), s.dim, t[`pos${i}`]!, s.updateDim);
            break;
          case "rename":
            v = rename(v, s.from, s.to);
            break;
          case "split":
            v = split(v, s.dim, {
              [s.into[0]]: recipe.sizes[s.into[0]]!,
              [s.into[1]]: recipe.sizes[s.into[1]]!,
            });
            break;
          case "merge":
            v = merge(v, s.dims, s.into);
            break;
          case "concat":
            v = concatenate([v, like(t[`y${i}`]!)], s.into, [s.dim, s.dim]);
            break;
          case "flash":
            v = flashAttention(v, like(t[`k${i}`]!), like(t[`v${i}`]!), {
              key: s.key,
              head: s.head,
            });
            break;
          case "shard":
            v = shard(v, spec("", s.spec));
            break;
          default:
            s satisfies never;
        }
      });
      return shard(v, spec("", recipe.out));
    },
    inputs,
    recipe.sizes,
  );
}

/** Input data for a recipe's program: floats in [0.5, 1.5) (so partial sums stay positive), ids and positions 0 or 1. */
export function programInputs(program: Program, seed = 1): Record<string, Float64Array> {
  const out: Record<string, Float64Array> = {};
  const rng = new Rng(seed);
  for (const input of program.inputs) {
    const n = input.var.aval.dims.reduce((k, d) => k * program.dims[d.dim]!, 1);
    const data = new Float64Array(n);
    const ints = input.var.aval.dtype === "int32";
    for (let i = 0; i < n; i++) data[i] = ints ? rng.int(2) : 0.5 + rng.next();
    out[input.path] = data;
  }
  return out;
}

/** How an op's operands arrived in a lowered program. */
export interface OperandKinds {
  /** Some operand is split over a mesh axis. */
  readonly sharded: boolean;
  /** Some operand was a partial sum `{U_…}` — kept by the op's rule, or resolved for it. */
  readonly partial: boolean;
}

/**
 * For each non-collective equation of a lowered program, whether its operands arrived sharded
 * and whether one was a partial sum (seen through the collectives inserted in front of it).
 */
export function operandKinds(lowered: Program): { primitive: Primitive; kinds: OperandKinds }[] {
  const producer = new Map<number, { primitive: Primitive; inputs: readonly Var[] }>();
  for (const e of lowered.eqns) {
    const inputs = e.inputs.filter((a): a is Var => a.kind === "var");
    for (const o of e.outputs) producer.set(o.id, { primitive: e.primitive, inputs });
  }
  const wasPartial = (v: Var): boolean => {
    if (v.aval.partial.length > 0) return true;
    const p = producer.get(v.id);
    return p !== undefined && isCollective(p.primitive) && p.inputs.some(wasPartial);
  };
  const out: { primitive: Primitive; kinds: OperandKinds }[] = [];
  for (const e of lowered.eqns) {
    if (isCollective(e.primitive)) continue;
    const vars = e.inputs.filter((a): a is Var => a.kind === "var");
    out.push({
      primitive: e.primitive,
      kinds: {
        sharded: vars.some((v) => v.aval.dims.some((d) => d.axes.length > 0)),
        partial: vars.some(wasPartial),
      },
    });
  }
  return out;
}
