import { bytesOf } from "./dtype.js";
import type { Atom, Aval, EqnOf } from "./ir.js";
import type { DimSharding } from "./notation.js";
import { type BinaryPrimitive, Primitive, type UnaryPrimitive } from "./primitives.js";

/** Sizes of dims as one device holds them (global sizes on one chip, local shards under SPMD). */
export interface SizeContext {
  size(dim: DimSharding): number;
}

/** The cost of one equation, before fusion decides which bytes reach HBM. */
export interface OpCost {
  readonly flops: number;
  /** Elementwise exp/log/tanh/rsqrt evaluations (also counted in `flops`). */
  readonly transcendentals: number;
  /** Bytes this equation reads of each operand (0 for literals and aliased buffers). */
  readonly reads: readonly number[];
  /** Bytes it writes of each result. */
  readonly writes: readonly number[];
}

/**
 * Where a cost rule writes one equation's cost — FLOPs, transcendentals, the bytes read of each
 * operand and written of each result (the first `inputs.length` and `outputs.length` entries) —
 * one sink reused from equation to equation, so an estimate allocates nothing per equation.
 */
export interface CostSink {
  flops: number;
  transcendentals: number;
  readonly reads: number[];
  readonly writes: number[];
}

/** An empty sink for `CostRule`s to write into. */
export function costSink(): CostSink {
  return { flops: 0, transcendentals: 0, reads: [], writes: [] };
}

export type CostRule<P extends Primitive> = (
  eqn: EqnOf<P>,
  ctx: SizeContext,
  out: CostSink,
) => void;

/** Elements of a value as one chip holds it (each dim at its size in `ctx`). */
export function elements(aval: Pick<Aval, "dims">, ctx: SizeContext): number {
  let n = 1;
  for (const d of aval.dims) n *= ctx.size(d);
  return n;
}

/** Bytes of a value as one chip holds it: elements × its dtype's width. */
export function avalBytes(aval: Aval, ctx: SizeContext): number {
  return bytesOf(aval.dtype, elements(aval, ctx));
}

function atomBytes(a: Atom, ctx: SizeContext): number {
  return a.kind === "var" ? avalBytes(a.aval, ctx) : 0;
}

/** Every operand read once, every result written once. */
function streamed(
  eqn: EqnOf<Primitive>,
  ctx: SizeContext,
  out: CostSink,
  flops = 0,
  transcendentals = 0,
): void {
  out.flops = flops;
  out.transcendentals = transcendentals;
  const inputs = eqn.inputs;
  for (let i = 0; i < inputs.length; i++) out.reads[i] = atomBytes(inputs[i]!, ctx);
  const outputs = eqn.outputs;
  for (let i = 0; i < outputs.length; i++) out.writes[i] = avalBytes(outputs[i]!.aval, ctx);
}

/** No FLOPs: reads `first` of the first operand (`second` of the second), writes `written`. */
function moves(out: CostSink, first: number, second: number, written: number): void {
  out.flops = 0;
  out.transcendentals = 0;
  out.reads[0] = first;
  out.reads[1] = second;
  out.writes[0] = written;
}

/** An elementwise op of `ops` FLOPs and `transcendentals` per result element. */
function elementwiseCost<P extends UnaryPrimitive | BinaryPrimitive>(
  ops: number,
  transcendentals = 0,
): CostRule<P> {
  return (eqn, ctx, out) => {
    const n = elements(eqn.outputs[0]!.aval, ctx);
    streamed(eqn, ctx, out, ops * n, transcendentals * n);
  };
}

/** A reduction of one op per input element, plus `perOutput` ops per result element. */
function reductionCost<P extends Primitive.ReduceSum | Primitive.ReduceMax | Primitive.ReduceMean>(
  perOutput: number,
): CostRule<P> {
  return (eqn, ctx, out) => {
    const x = eqn.inputs[0]!;
    const inElems = x.kind === "var" ? elements(x.aval, ctx) : 1;
    streamed(eqn, ctx, out, inElems + perOutput * elements(eqn.outputs[0]!.aval, ctx));
  };
}

/** Moves no data by itself: layout changes and constraints cost what fusion makes them cost. */
function layoutCost<P extends Primitive>(): CostRule<P> {
  return (eqn, ctx, out) => streamed(eqn, ctx, out);
}

/**
 * The product of the sizes of every dim an einsum's operands name, each dim once (at the
 * sharding of the first operand that names it).
 */
function einsumSpace(eqn: EqnOf<Primitive.Einsum>, ctx: SizeContext): number {
  let product = 1;
  const inputs = eqn.inputs;
  for (let i = 0; i < inputs.length; i++) {
    const a = inputs[i]!;
    if (a.kind !== "var") continue;
    for (const d of a.aval.dims) if (!namedBefore(inputs, i, d.dim)) product *= ctx.size(d);
  }
  return product;
}

/** Whether an operand before `i` names `dim`. */
function namedBefore(inputs: EqnOf<Primitive.Einsum>["inputs"], i: number, dim: string): boolean {
  for (let j = 0; j < i; j++) {
    const b = inputs[j]!;
    if (b.kind === "var" && b.aval.dims.some((d) => d.dim === dim)) return true;
  }
  return false;
}

export const costRules: { readonly [P in Primitive]: CostRule<P> } = {
  [Primitive.Einsum]: (eqn, ctx, out) => streamed(eqn, ctx, out, 2 * einsumSpace(eqn, ctx)),
  [Primitive.Exp]: elementwiseCost(1, 1),
  [Primitive.Log]: elementwiseCost(1, 1),
  [Primitive.Tanh]: elementwiseCost(1, 1),
  [Primitive.Rsqrt]: elementwiseCost(1, 1),
  [Primitive.Neg]: elementwiseCost(1),
  // x·σ(x) = x / (1 + e^(−x)): negate, exp, add, divide.
  [Primitive.Silu]: elementwiseCost(4, 1),
  // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))): 3 for x³·c, add, scale, tanh, add, 2 muls.
  [Primitive.Gelu]: elementwiseCost(9, 1),
  [Primitive.Cast]: layoutCost(),
  [Primitive.Add]: elementwiseCost(1),
  [Primitive.Sub]: elementwiseCost(1),
  [Primitive.Mul]: elementwiseCost(1),
  [Primitive.Div]: elementwiseCost(1),
  [Primitive.Max]: elementwiseCost(1),
  [Primitive.ReduceSum]: reductionCost(0),
  [Primitive.ReduceMax]: reductionCost(0),
  [Primitive.ReduceMean]: reductionCost(1),
  [Primitive.Gather]: (eqn, ctx, out) => {
    // Only the looked-up rows leave HBM: as many table bytes as the result holds.
    const rows = avalBytes(eqn.outputs[0]!.aval, ctx);
    moves(out, rows, atomBytes(eqn.inputs[1]!, ctx), rows);
  },
  // The start index is a scalar: it travels in scalar memory, not through HBM.
  [Primitive.DynamicSlice]: (eqn, ctx, out) => {
    const slice = avalBytes(eqn.outputs[0]!.aval, ctx);
    moves(out, slice, 0, slice);
  },
  [Primitive.DynamicUpdateSlice]: (eqn, ctx, out) => {
    // In place (a donated buffer): the operand is neither read nor copied; only the update moves.
    const update = atomBytes(eqn.inputs[1]!, ctx);
    moves(out, 0, update, update);
    out.reads[2] = 0;
  },
  [Primitive.Rename]: layoutCost(),
  [Primitive.Split]: layoutCost(),
  [Primitive.Merge]: layoutCost(),
  [Primitive.Concatenate]: layoutCost(),
  [Primitive.FlashAttention]: (eqn, ctx, out) => {
    const [q, k] = eqn.inputs as readonly [Atom, Atom, Atom];
    if (q.kind !== "var" || k.kind !== "var") {
      streamed(eqn, ctx, out);
      return;
    }
    const { key, head } = eqn.params;
    // One score per (q position, k position) over the union of the other dims.
    let scores = 1;
    for (const d of q.aval.dims) if (d.dim !== head) scores *= ctx.size(d);
    const keyDim = k.aval.dims.find((d) => d.dim === key)!;
    const headDim = q.aval.dims.find((d) => d.dim === head)!;
    scores *= ctx.size(keyDim);
    // q·k and p·v: 2·H each per score; online softmax: max, subtract, exp, sum, rescale.
    streamed(eqn, ctx, out, scores * (4 * ctx.size(headDim) + 5), scores);
  },
  [Primitive.Shard]: layoutCost(),
  // Collectives: HBM traffic of reading the local input and writing the local result; their
  // ICI cost is the sharding package's (collective-cost.ts). Reductions add one op per element.
  [Primitive.AllGather]: layoutCost(),
  [Primitive.ReduceScatter]: (eqn, ctx, out) => {
    const x = eqn.inputs[0]!;
    streamed(eqn, ctx, out, x.kind === "var" ? elements(x.aval, ctx) : 0);
  },
  [Primitive.AllReduce]: (eqn, ctx, out) => {
    streamed(eqn, ctx, out, elements(eqn.outputs[0]!.aval, ctx));
  },
  [Primitive.AllToAll]: layoutCost(),
  // Keeping one's own block reads only that block.
  [Primitive.ShardSlice]: (eqn, ctx, out) => {
    const block = avalBytes(eqn.outputs[0]!.aval, ctx);
    moves(out, block, 0, block);
  },
};
