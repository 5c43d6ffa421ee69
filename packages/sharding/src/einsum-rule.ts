import type { Aval, EqnOf, Primitive } from "@shardcost/core";
import type { Target } from "./reshard.js";
import type { RuleContext, RuleResult } from "./rules.js";

const NONE: readonly string[] = [];
const same = (a: readonly string[], b: readonly string[]) => a.join() === b.join();

/**
 * Einsum, after the book's sharding chapter. Result dims first, in spec order, then
 * contracting dims; each takes axes no earlier dim took:
 * - a result dim takes the axes of the biggest operand that shards it (so weights stay put and
 *   activations move); other operands are resharded to match (case 4, an axis on
 *   non-contracting dims of both operands, thus gathers the smaller operand's; for equal sizes
 *   the second's);
 * - a contracting dim sharded identically in every operand stays sharded: each device
 *   multiplies its blocks and the result holds partial sums `{U_X}` (case 3);
 * - a contracting dim sharded in only some operands is gathered first (case 2), unless the
 *   `shard()` constraint on the result uses those axes (on a result dim or as `{U_X}`), or only
 *   the biggest operand splits it and the result is smaller than that operand (a weight split
 *   on D: reducing the result moves fewer bytes than gathering the weight; not for a program
 *   output, where a partial sum would be ambiguous): then the other
 *   operands keep their own blocks (a free slice) and the result is partial;
 * - an unsharded contracting dim needs nothing (case 1).
 * Partial-sum operands are reduced first.
 */
export function einsumRule(
  eqn: EqnOf<Primitive.Einsum>,
  operands: readonly (Aval | null)[],
  ctx: RuleContext,
): RuleResult {
  const terms = eqn.params.inputs;
  const output = eqn.params.output;
  const axesIn = operands.map((o) => new Map(o!.dims.map((d) => [d.dim, d.axes])));
  const contracting = [...new Set(terms.flat())].filter((d) => !output.includes(d));
  const constrained = new Set([
    ...(ctx.constraint?.dims.flatMap((d) => d.axes) ?? []),
    ...(ctx.constraint?.partial ?? []),
  ]);
  const used = new Set<string>();
  const chosen = new Map<string, readonly string[]>();
  const take = (dim: string, axes: readonly string[]) => {
    chosen.set(dim, axes);
    for (const a of axes) used.add(a);
  };
  const free = (axes: readonly string[]) => axes.every((a) => !used.has(a));
  // The biggest operand keeps its sharding first (a weight stays put; an activation moves).
  const elements = (a: Aval | null) => a!.dims.reduce((n, d) => n * ctx.dims[d.dim]!, 1);
  const bySize = operands
    .map((o, i) => ({ i, n: elements(o) }))
    .sort((a, b) => b.n - a.n || a.i - b.i)
    .map(({ i }) => axesIn[i]!);
  for (const m of bySize) {
    for (const [dim, axes] of m) {
      if (output.includes(dim) && !chosen.has(dim) && axes.length > 0 && free(axes)) {
        take(dim, axes);
      }
    }
  }
  for (const dim of output) if (!chosen.has(dim)) take(dim, NONE);
  const partial: string[] = [];
  const resultElements = output.reduce((n, d) => n * ctx.dims[d]!, 1);
  const biggest = bySize[0]!;
  const biggestElements = Math.max(...operands.map(elements));
  for (const dim of contracting) {
    const holders = axesIn.map((m) => m.get(dim)).filter((a): a is readonly string[] => !!a);
    const sharded = holders.filter((a) => a.length > 0);
    const first = sharded[0];
    if (!first || !free(first)) {
      take(dim, NONE);
      continue;
    }
    const everywhere = sharded.length === holders.length && sharded.every((a) => same(a, first));
    const wanted = first.every((a) => constrained.has(a)) && sharded.every((a) => same(a, first));
    // Only the biggest operand (a weight) splits it: slicing the others and reducing the
    // smaller result moves fewer bytes than gathering that operand.
    const weightOnly =
      ctx.output !== true &&
      sharded.length === 1 &&
      same(biggest.get(dim) ?? NONE, first) &&
      resultElements < biggestElements;
    if (everywhere || wanted || weightOnly) {
      take(dim, first);
      partial.push(...first);
    } else {
      take(dim, NONE);
    }
  }
  const want: Target[] = terms.map((term) => ({
    axes: new Map(term.map((d) => [d, chosen.get(d)!])),
    partial: NONE,
  }));
  return {
    operands: want,
    results: [{ axes: new Map(output.map((d) => [d, chosen.get(d)!])), partial }],
  };
}
