import type { Aval, EqnOf, Primitive, Sharding } from "@shardcost/core";
import type { Target } from "./reshard.js";

/** What a rule sees: the mesh's axis sizes, global dim sizes, and the constraint downstream. */
export interface RuleContext {
  readonly dims: Readonly<Record<string, number>>;
  axisSize(axis: string): number;
  /** The sharding a `shard()` constraint wants for this equation's result, if one reads it. */
  readonly constraint: Sharding | undefined;
  /** Whether the result is one of the program's outputs (partial sums there are an error). */
  readonly output?: boolean;
}

/**
 * A per-primitive sharding rule: from the operands' current shardings, the sharding each
 * operand must have (lowering inserts the collectives) and each result's sharding.
 */
export interface RuleResult {
  readonly operands: readonly (Target | null)[];
  readonly results: readonly Target[];
  /**
   * Mesh axes over which each device's result is only its share of a reduction that is not a
   * sum (a max over a split dim, attention over a split key dim): lowering combines them with
   * collectives over these axes (`combine.ts`).
   */
  readonly combine?: readonly string[];
}

/** A sharding rule for primitive `P`. */
export type ShardingRule<P extends Primitive> = (
  eqn: EqnOf<P>,
  operands: readonly (Aval | null)[],
  ctx: RuleContext,
) => RuleResult;
