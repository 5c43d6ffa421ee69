import type { Aval, EqnOf, Primitive } from "@shardcost/core";
import type { Target } from "./reshard.js";
import type { RuleContext, RuleResult } from "./rule-types.js";

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
 *   the biggest operand splits it and reducing the result moves fewer bytes than gathering
 *   that operand (a weight split on D; the result counts twice when it must be all-reduced; not
 *   for a program output, where a partial sum would be ambiguous): then the other
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
  const resultAxes = new Set(ctx.constraint?.dims.flatMap((d) => d.axes) ?? []);
  const partialWanted = new Set(ctx.constraint?.partial ?? []);
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
  // A result dim the constraint lays out differently from the operands that split it: when
  // those operands are smaller than the result, reshard them before the product (moving the
  // smaller array) rather than the result after it.
  const resultElements = output.reduce((n, d) => n * ctx.dims[d]!, 1);
  for (const c of ctx.constraint?.dims ?? []) {
    if (!output.includes(c.dim) || !free(c.axes)) continue;
    const holders = operands.filter((_o, i) => {
      const axes = axesIn[i]!.get(c.dim);
      return axes !== undefined && axes.length > 0 && !same(axes, c.axes);
    });
    if (holders.length > 0 && holders.every((o) => elements(o) < resultElements)) {
      take(c.dim, c.axes);
    }
  }
  for (const m of bySize) {
    for (const [dim, axes] of m) {
      if (output.includes(dim) && !chosen.has(dim) && axes.length > 0 && free(axes)) {
        take(dim, axes);
      }
    }
  }
  for (const dim of output) if (!chosen.has(dim)) take(dim, NONE);
  const partial: string[] = [];
  const biggest = bySize[0]!;
  for (const dim of contracting) {
    const holders = axesIn.map((m) => m.get(dim)).filter((a): a is readonly string[] => !!a);
    const sharded = holders.filter((a) => a.length > 0);
    const first = sharded[0];
    if (!first || !free(first)) {
      take(dim, NONE);
      continue;
    }
    const everywhere = sharded.length === holders.length && sharded.every((a) => same(a, first));
    // Keeping the split leaves a partial sum to reduce: a ReduceScatter moves the result once
    // when the constraint splits result dims over all these axes, an AllReduce twice. The
    // alternative gathers every operand that splits the dim. A constraint asking for `{U_…}`
    // itself always keeps it.
    const scatters = first.every((a) => ctx.axisSize(a) === 1 || resultAxes.has(a));
    const reduceCost = (scatters ? 1 : 2) * resultElements;
    const gatherCost = operands.reduce(
      (n, o, i) => n + ((axesIn[i]!.get(dim)?.length ?? 0) > 0 ? elements(o) : 0),
      0,
    );
    // A tie with a ReduceScatter keeps the split (same bytes and hops as the gather, as the
    // book's case 2 does); a tie with an AllReduce gathers.
    const cheaper = scatters ? reduceCost <= gatherCost : reduceCost < gatherCost;
    const askedPartial = first.every((a) => partialWanted.has(a));
    const wanted =
      sharded.every((a) => same(a, first)) &&
      (askedPartial || (first.every((a) => constrained.has(a)) && cheaper));
    // Only the biggest operand (a weight) splits it: slice the others, reduce the result.
    const weightOnly =
      ctx.output !== true &&
      sharded.length === 1 &&
      same(biggest.get(dim) ?? NONE, first) &&
      cheaper;
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
