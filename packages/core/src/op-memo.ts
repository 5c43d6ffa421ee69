import type { Aval } from "./ir.js";
import { Primitive } from "./primitives.js";

/**
 * Whether the ops share a primitive's params objects between equations (elementwise ops, casts,
 * reductions, einsums, lookups, slices and layout ops): an equation of one of these is
 * identified by its primitive, its params object and its operands' (interned) types. Total: a
 * new primitive must say. Constraints and flash attention make fresh params; collectives are
 * inserted by lowering, not traced.
 */
const sharesParams: { readonly [P in Primitive]: boolean } = {
  [Primitive.Einsum]: true,
  [Primitive.Exp]: true,
  [Primitive.Log]: true,
  [Primitive.Tanh]: true,
  [Primitive.Rsqrt]: true,
  [Primitive.Neg]: true,
  [Primitive.Silu]: true,
  [Primitive.Gelu]: true,
  [Primitive.Cast]: true,
  [Primitive.Add]: true,
  [Primitive.Sub]: true,
  [Primitive.Mul]: true,
  [Primitive.Div]: true,
  [Primitive.Max]: true,
  [Primitive.ReduceSum]: true,
  [Primitive.ReduceMax]: true,
  [Primitive.ReduceMean]: true,
  [Primitive.Gather]: true,
  [Primitive.DynamicSlice]: true,
  [Primitive.DynamicUpdateSlice]: true,
  [Primitive.Rename]: true,
  [Primitive.Split]: true,
  [Primitive.Merge]: true,
  [Primitive.Concatenate]: true,
  [Primitive.FlashAttention]: false,
  [Primitive.Shard]: false,
  [Primitive.AllGather]: false,
  [Primitive.ReduceScatter]: false,
  [Primitive.AllReduce]: false,
  [Primitive.AllToAll]: false,
  [Primitive.ShardSlice]: false,
};

const LEAF = Symbol("result");
const LITERAL = Symbol("literal");

type Node = Map<unknown, unknown>;

function child(node: Node, key: unknown): Node {
  let next = node.get(key) as Node | undefined;
  if (next === undefined) {
    next = new Map();
    node.set(key, next);
  }
  return next;
}

/** Where one remembered result lives: empty until the rule has run once. */
export interface MemoSlot<T> {
  value: T | undefined;
}

/**
 * What a pure rule gave for an equation, remembered by (primitive, params object, operand
 * types, extra keys): a layer repeated a hundred times runs its rules once. Types are interned
 * and params shared, so the keys are the objects themselves. Only primitives whose params the
 * ops share are remembered (`at` answers undefined for the rest); results are never changed
 * after they are made, so one can serve every equation that asks the same.
 *
 * ```ts
 * const slot = memo.at(eqn.primitive, eqn.params, avals, []);
 * const result = slot?.value ?? rule(...);
 * if (slot) slot.value = result;
 * ```
 */
export class OpMemo<T> {
  private readonly root: Node = new Map();

  /** The slot for this equation (`extra`: anything else the rule reads), if it may be kept. */
  at(
    primitive: Primitive,
    params: unknown,
    avals: readonly (Aval | null)[],
    extra: readonly unknown[],
  ): MemoSlot<T> | undefined {
    if (!sharesParams[primitive]) return undefined;
    // Elementwise ops share one empty params object: the primitive comes first.
    let node = child(child(this.root, primitive), params);
    for (let i = 0; i < avals.length; i++) node = child(node, avals[i] ?? LITERAL);
    for (let i = 0; i < extra.length; i++) node = child(node, extra[i]);
    let slot = node.get(LEAF) as MemoSlot<T> | undefined;
    if (slot === undefined) {
      slot = { value: undefined };
      node.set(LEAF, slot);
    }
    return slot;
  }
}
