/**
 * For users' own property tests of sharding rules: fast-check arbitraries for meshes,
 * shardings and small programs, and `assertSpmdEquivalent`, which lowers a program, runs every
 * device of the mesh on real data and checks the result and the bytes moved.
 *
 * @module @shardcost/sharding/testing
 */
import {
  type DimSharding,
  type Estimate,
  interpret,
  type NDArray,
  type Program,
  printProgram,
  printSharding,
  ShardcostError,
  type TensorSpec,
  type Tracer,
  tensor,
  trace,
} from "@shardcost/core";
import { add, einsum, max, mean, mul, neg, shard, silu, sum, tanh } from "@shardcost/ops";
import fc from "fast-check";
import { compile } from "./compile.js";
import { type Mesh, mesh } from "./mesh.js";
import { type Simulation, simulate } from "./simulate.js";

const AXIS_NAMES = ["X", "Y", "Z"] as const;

/** Meshes of 1..maxAxes axes (X, Y, Z) of size 1..maxSize over `chip`. */
export function meshArb(options: { maxAxes?: number; maxSize?: number; chip?: string } = {}) {
  const { maxAxes = 3, maxSize = 4, chip = "v5e" } = options;
  return fc
    .array(fc.integer({ min: 1, max: maxSize }), { minLength: 1, maxLength: maxAxes })
    .map((sizes) => mesh(chip, Object.fromEntries(sizes.map((s, i) => [AXIS_NAMES[i]!, s]))));
}

/**
 * Valid shardings of `dims` on `m`: each dim gets an ordered set of unused axes whose sizes
 * multiply to a divisor of the dim's size.
 */
export function shardingArb(
  dims: readonly string[],
  sizes: Readonly<Record<string, number>>,
  m: Mesh,
): fc.Arbitrary<DimSharding[]> {
  const axes = m.axes.map((a) => a.name);
  return fc
    .tuple(
      fc.shuffledSubarray(axes),
      fc.array(fc.nat(dims.length), { minLength: axes.length, maxLength: axes.length }),
    )
    .map(([order, owners]) => {
      const assigned = dims.map((dim): DimSharding => ({ dim, axes: [] }));
      order.forEach((axis, i) => {
        const owner = owners[i]!;
        if (owner >= dims.length) return; // leave the axis unused: replicated
        const d = assigned[owner]!;
        const product = [...d.axes, axis].reduce(
          (n, a) => n * m.axes.find((x) => x.name === a)!.size,
          1,
        );
        if (sizes[d.dim]! % product === 0)
          assigned[owner] = { dim: d.dim, axes: [...d.axes, axis] };
      });
      return assigned;
    });
}

/** A program recipe: plain data, so fast-check can print and shrink it. */
export interface ChainRecipe {
  readonly sizes: Readonly<Record<string, number>>;
  readonly x: readonly DimSharding[];
  readonly steps: readonly ChainStep[];
  readonly out: readonly DimSharding[];
}

/** One step of a generated chain program: an einsum, an elementwise op or a constraint. */
export type ChainStep =
  | {
      readonly op: "einsum";
      readonly contract: string;
      readonly produce: string;
      readonly w: readonly DimSharding[];
    }
  | { readonly op: "unary"; readonly fn: "tanh" | "silu" | "neg" }
  | { readonly op: "binary"; readonly fn: "add" | "mul"; readonly y: readonly DimSharding[] }
  | { readonly op: "reduce"; readonly fn: "sum" | "max" | "mean"; readonly dim: string }
  | { readonly op: "shard"; readonly spec: readonly DimSharding[] };

const DIM_POOL = ["A", "B", "C", "D", "E"] as const;

// No exp: chains of it overflow; tanh and silu keep values bounded.
const unaries = { tanh, silu, neg } as const;
const binaries = { add, mul } as const;
const reductions = { sum, max, mean } as const;

function specOf(name: string, dims: readonly DimSharding[]): string {
  return printSharding({ name, dims, partial: [] });
}

/** Traces a recipe: x, then each step on the running value, then a final constraint. */
export function buildChain(recipe: ChainRecipe): Program {
  const inputs: Record<string, TensorSpec> = { x: tensor(specOf("x", recipe.x), "f32") };
  recipe.steps.forEach((s, i) => {
    if (s.op === "einsum") inputs[`w${i}`] = tensor(specOf(`w${i}`, s.w), "f32");
    if (s.op === "binary") inputs[`y${i}`] = tensor(specOf(`y${i}`, s.y), "f32");
  });
  return trace(
    (t: Record<string, Tracer>) => {
      let v = t.x!;
      recipe.steps.forEach((s, i) => {
        switch (s.op) {
          case "einsum": {
            const w = t[`w${i}`]!;
            const out = v.dims.map((d) => (d === s.contract ? s.produce : d));
            v = einsum(`${v.dims.join(" ")}, ${w.dims.join(" ")} -> ${out.join(" ")}`, v, w);
            break;
          }
          case "unary":
            v = unaries[s.fn](v);
            break;
          case "binary":
            v = binaries[s.fn](v, t[`y${i}`]!);
            break;
          case "reduce":
            v = reductions[s.fn](v, s.dim);
            break;
          case "shard":
            v = shard(v, specOf("", s.spec));
            break;
          default:
            s satisfies never;
        }
      });
      return shard(
        v,
        specOf(
          "",
          recipe.out.filter((d) => v.dims.includes(d.dim)),
        ),
      );
    },
    inputs,
    recipe.sizes,
  );
}

/**
 * Random chains of einsums, elementwise ops, reductions and constraints over small dims, with
 * random valid shardings on `m`. Each value has 2..3 dims so the chains stay tiny.
 */
export function chainArb(m: Mesh, options: { maxSteps?: number } = {}): fc.Arbitrary<ChainRecipe> {
  const { maxSteps = 4 } = options;
  return fc
    .record({
      sizes: fc.tuple(...DIM_POOL.map(() => fc.constantFrom(2, 4, 6, 8, 12))),
      rank: fc.integer({ min: 2, max: 3 }),
      kinds: fc.array(fc.constantFrom("einsum", "unary", "binary", "reduce", "shard"), {
        minLength: 1,
        maxLength: maxSteps,
      }),
      picks: fc.array(fc.nat(1000), { minLength: 4 * maxSteps, maxLength: 4 * maxSteps }),
    })
    .chain(({ sizes: sz, rank, kinds, picks }) => {
      const sizes = Object.fromEntries(DIM_POOL.map((d, i) => [d, sz[i]!]));
      let cur: string[] = DIM_POOL.slice(0, rank);
      const plans: { kind: string; dims: string[]; extra: Record<string, string> }[] = [];
      kinds.forEach((kind, i) => {
        const p = (k: number) => picks[(4 * i + k) % picks.length]!;
        if (kind === "einsum") {
          const contract = cur[p(0) % cur.length]!;
          const unused = DIM_POOL.filter((d) => !cur.includes(d));
          const produce = unused[p(1) % unused.length]!;
          plans.push({ kind, dims: [contract, produce], extra: { contract, produce } });
          cur = cur.map((d) => (d === contract ? produce : d));
        } else if (kind === "reduce" && cur.length > 1) {
          const dim = cur[p(0) % cur.length]!;
          plans.push({
            kind,
            dims: [...cur],
            extra: { dim, fn: ["sum", "max", "mean"][p(1) % 3]! },
          });
          cur = cur.filter((d) => d !== dim);
        } else if (kind === "binary") {
          // The other operand has all of the value's dims, or all but one (broadcast).
          const y =
            p(0) % 2 === 0 || cur.length === 1
              ? [...cur]
              : cur.filter((_, k) => k !== p(1) % cur.length);
          plans.push({ kind, dims: y, extra: { fn: ["add", "mul"][p(2) % 2]! } });
        } else if (kind === "shard") {
          plans.push({ kind, dims: [...cur], extra: {} });
        } else {
          plans.push({
            kind: "unary",
            dims: [],
            extra: { fn: ["tanh", "silu", "neg"][p(0) % 3]! },
          });
        }
      });
      const stepArbs = plans.map((plan) => {
        switch (plan.kind) {
          case "einsum":
            return shardingArb(plan.dims, sizes, m).map(
              (w): ChainStep => ({
                op: "einsum",
                contract: plan.extra.contract!,
                produce: plan.extra.produce!,
                w,
              }),
            );
          case "reduce":
            return fc.constant<ChainStep>({
              op: "reduce",
              fn: plan.extra.fn as "sum",
              dim: plan.extra.dim!,
            });
          case "binary":
            return shardingArb(plan.dims, sizes, m).map(
              (y): ChainStep => ({ op: "binary", fn: plan.extra.fn as "add", y }),
            );
          case "shard":
            return shardingArb(plan.dims, sizes, m).map(
              (spec): ChainStep => ({ op: "shard", spec }),
            );
          default:
            return fc.constant<ChainStep>({ op: "unary", fn: plan.extra.fn as "tanh" });
        }
      });
      return fc.record({
        sizes: fc.constant(sizes),
        x: shardingArb(DIM_POOL.slice(0, rank), sizes, m),
        steps: stepArbs.length > 0 ? fc.tuple(...stepArbs) : fc.constant([]),
        out: shardingArb(cur, sizes, m),
      });
    });
}

/** Deterministic input data for a program, seeded: floats in [-1, 1), int32 ids 0 or 1. */
export function randomInputs(program: Program, seed = 1): Record<string, Float64Array> {
  const out: Record<string, Float64Array> = {};
  let s = seed >>> 0 || 1;
  for (const input of program.inputs) {
    const n = input.var.aval.dims.reduce((k, d) => k * program.dims[d.dim]!, 1);
    const data = new Float64Array(n);
    const ids = input.var.aval.dtype === "int32";
    for (let i = 0; i < n; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      // Integer inputs are ids and positions: small and non-negative.
      data[i] = ids ? s % 2 : (2 * s) / 2 ** 32 - 1;
    }
    out[input.path] = data;
  }
  return out;
}

/** What `assertSpmdEquivalent` checked: the lowered program, the simulation, the estimate and the unsharded reference outputs. */
export interface SpmdCheck {
  readonly lowered: Program;
  readonly simulation: Simulation;
  readonly estimate: Estimate;
  readonly reference: Record<string, NDArray>;
}

/**
 * Lowers `program` for `m`, runs every device on real data, and checks that the gathered
 * outputs equal `interpret` on the unsharded program (relative to each output's largest
 * value) and that the bytes the devices sent equal the cost model's ICI bytes.
 */
export function assertSpmdEquivalent(
  program: Program,
  m: Mesh,
  options: { arrays?: Record<string, Float64Array>; tolerance?: number } = {},
): SpmdCheck {
  const tolerance = options.tolerance ?? 1e-5;
  const compiled = compile(program, { mesh: m });
  const { lowered } = compiled;
  const arrays = options.arrays ?? randomInputs(program);
  const reference = interpret(program, arrays);
  const simulation = simulate(lowered, m, arrays);
  const fail = (why: string): never => {
    throw new ShardcostError("sharding", `not SPMD-equivalent: ${why}\n${printProgram(lowered)}`);
  };
  for (const [path, want] of Object.entries(reference)) {
    const got = simulation.outputs[path]!;
    let scale = 0;
    for (const v of want.data) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
    for (let i = 0; i < want.data.length; i++) {
      if (got.data[i] === want.data[i]) continue; // equal, infinities of one sign included
      const err = Math.abs(got.data[i]! - want.data[i]!) / Math.max(scale, 1e-30);
      if (!(err <= tolerance))
        fail(`output ${path}[${i}] = ${got.data[i]} but unsharded gives ${want.data[i]}`);
    }
  }
  const { estimate } = compiled;
  const simulated = simulation.bytesSent.reduce((a, b) => a + b, 0);
  const modelled = estimate.totals.iciBytes * m.chips;
  if (Math.abs(simulated - modelled) > 1e-9 * Math.max(1, modelled)) {
    fail(`devices sent ${simulated} bytes in all; the cost model says ${modelled}`);
  }
  return { lowered, simulation, estimate, reference };
}
export {
  type BinaryFn,
  buildProgram,
  generateProgram,
  type OperandKinds,
  operandKinds,
  PROGRAM_PRIMITIVES,
  type ProgramRecipe,
  type ProgramStep,
  programArb,
  programInputs,
  rounds,
  tolerance,
  type UnaryFn,
} from "./program-arb.js";
