import {
  type Aval,
  type BinaryPrimitive,
  type EqnOf,
  Primitive,
  type UnaryPrimitive,
} from "@shardcost/core";
import { einsumRule } from "./einsum-rule.js";
import type { Target } from "./reshard.js";
import type { RuleResult, ShardingRule } from "./rule-types.js";

type AxesMap = Map<string, readonly string[]>;

const NONE: readonly string[] = [];

function axesOf(a: Aval): AxesMap {
  return new Map(a.dims.map((d) => [d.dim, d.axes]));
}

function target(axes: AxesMap, partial: readonly string[] = NONE): Target {
  return { axes, partial };
}

/** Same axes, partial sums reduced first (the op is not linear in its operand). */
const nonlinearRule: ShardingRule<UnaryPrimitive | Primitive.Cast> = (_eqn, [x]) => {
  const t = target(axesOf(x!));
  return { operands: [t], results: [t] };
};

/** Linear and layout-preserving: sharding and partial sums pass straight through. */
const linearRule: ShardingRule<Primitive.Neg> = (_eqn, [x]) => {
  const t = target(axesOf(x!), x!.partial);
  return { operands: [t], results: [t] };
};

/**
 * Broadcasting by name: each result dim takes the axes of the first operand that shards it
 * (unless an axis is taken); the other operands are resharded to match (a replicated operand
 * just keeps its block). Partial sums survive a sum of equally
 * partial operands, and a product or quotient with one partial numerator; otherwise they are
 * reduced first.
 */
const binaryRule: ShardingRule<BinaryPrimitive> = (eqn, operands) => {
  const vars = operands.filter((o): o is Aval => o !== null);
  const out = new Map<string, readonly string[]>();
  const used = new Set<string>();
  const partials = operands.map((o) => (o ? [...o.partial].sort().join("") : ""));
  let keep: readonly string[] = NONE;
  const partialIdx = operands.findIndex((o) => o !== null && o.partial.length > 0);
  if (partialIdx >= 0) {
    const p = operands[partialIdx]!.partial;
    const allVarsSame = operands.every(
      (o) => o !== null && partials[operands.indexOf(o)] === partials[partialIdx],
    );
    const othersFull = operands.every(
      (o, i) => i === partialIdx || o === null || o.partial.length === 0,
    );
    const linear =
      ((eqn.primitive === Primitive.Add || eqn.primitive === Primitive.Sub) && allVarsSame) ||
      (eqn.primitive === Primitive.Mul && othersFull) ||
      (eqn.primitive === Primitive.Div && partialIdx === 0 && othersFull);
    if (linear) keep = p;
  }
  for (const a of keep) used.add(a);
  // Each dim takes the first operand's axes for it that are still free; replicated beats none.
  for (const v of vars) {
    for (const d of v.dims) {
      if (out.has(d.dim)) continue;
      const pick = vars
        .map((o) => o.dims.find((x) => x.dim === d.dim)?.axes ?? NONE)
        .find((axes) => axes.length > 0 && axes.every((a) => !used.has(a)));
      out.set(d.dim, pick ?? NONE);
      for (const a of pick ?? NONE) used.add(a);
    }
  }
  const want = operands.map((o) =>
    o === null
      ? null
      : target(
          new Map(o.dims.map((d) => [d.dim, out.get(d.dim)!])),
          o.partial.length > 0 ? keep : NONE,
        ),
  );
  return { operands: want, results: [target(out, keep)] };
};

/** A sum over a sharded dim leaves partial sums over its axes (`{U_X}`). */
const sumRule: ShardingRule<Primitive.ReduceSum | Primitive.ReduceMean> = (eqn, [x]) => {
  const axes = axesOf(x!);
  const reduced = eqn.params.dims.flatMap((d) => axes.get(d) ?? NONE);
  const out = new Map([...axes].filter(([d]) => !eqn.params.dims.includes(d)));
  return {
    operands: [target(axes, x!.partial)],
    results: [target(out, [...x!.partial, ...reduced])],
  };
};

/** Max over split dims: each device takes its local max, then an AllReduce-max combines them. */
const maxRule: ShardingRule<Primitive.ReduceMax> = (eqn, [x]) => {
  const axes = axesOf(x!);
  const combine = eqn.params.dims.flatMap((d) => axes.get(d) ?? NONE);
  const out = new Map([...axes].filter(([d]) => !eqn.params.dims.includes(d)));
  return { operands: [target(axes)], results: [target(out)], combine };
};

function unshard(a: Aval, dims: readonly (string | null)[], keepPartial: boolean): Target {
  const axes = axesOf(a);
  for (const d of dims) if (d !== null) axes.set(d, NONE);
  return target(axes, keepPartial ? a.partial : NONE);
}

function rename(axes: AxesMap, from: string, to: string): AxesMap {
  return new Map([...axes].map(([d, a]) => [d === from ? to : d, a]));
}

export const shardingRules: { readonly [P in Primitive]: ShardingRule<P> } = {
  [Primitive.Einsum]: einsumRule,
  [Primitive.Exp]: nonlinearRule,
  [Primitive.Log]: nonlinearRule,
  [Primitive.Tanh]: nonlinearRule,
  [Primitive.Rsqrt]: nonlinearRule,
  [Primitive.Neg]: linearRule,
  [Primitive.Silu]: nonlinearRule,
  [Primitive.Gelu]: nonlinearRule,
  [Primitive.Cast]: nonlinearRule,
  [Primitive.Add]: binaryRule,
  [Primitive.Sub]: binaryRule,
  [Primitive.Mul]: binaryRule,
  [Primitive.Div]: binaryRule,
  [Primitive.Max]: binaryRule,
  [Primitive.ReduceSum]: sumRule,
  [Primitive.ReduceMax]: maxRule,
  // A mean over sharded dims is a sum of local sums over the global count: partial sums
  // (lowering tells the local op the global count).
  [Primitive.ReduceMean]: sumRule,
  // A table sharded on its looked-up dim (vocab-parallel embedding): each device looks up the
  // ids in its own range and writes zeros for the rest, so the rows come out as partial sums
  // over those axes. The table's other dims keep axes the ids don't use.
  [Primitive.Gather]: (eqn, [table, ids]) => {
    const idAxes = axesOf(ids!);
    const used = new Set([...idAxes.values()].flat());
    const byRow = axesOf(table!).get(eqn.params.dim) ?? NONE;
    const vocab = byRow.every((a) => !used.has(a)) ? byRow : NONE;
    for (const a of vocab) used.add(a);
    const rows = new Map(
      table!.dims.map((d) => {
        if (d.dim === eqn.params.dim) return [d.dim, vocab] as const;
        return [d.dim, d.axes.some((x) => used.has(x)) ? NONE : d.axes] as const;
      }),
    );
    const out = new Map([...idAxes, ...[...rows].filter(([d]) => d !== eqn.params.dim)]);
    return { operands: [target(rows), target(idAxes)], results: [target(out, vocab)] };
  },
  [Primitive.DynamicSlice]: (eqn, [x, index]) => {
    const t = unshard(x!, [eqn.params.dim], true);
    const out = new Map(t.axes);
    out.delete(eqn.params.dim);
    const result =
      eqn.params.outDim === null
        ? out
        : new Map(
            [...t.axes].map(([d, a]) =>
              d === eqn.params.dim ? [eqn.params.outDim!, NONE] : [d, a],
            ),
          );
    return {
      operands: [t, index ? target(new Map()) : null],
      results: [target(result, x!.partial)],
    };
  },
  // In place, wherever the target is split: a target split along the written dim takes a masked
  // local write (each device writes the positions in its block), so the update is replicated
  // along that dim's axes and nothing is gathered.
  [Primitive.DynamicUpdateSlice]: (eqn, [x, update, index]) => {
    const t = target(axesOf(x!));
    const u = new Map(
      update!.dims.map((d) => [
        d.dim,
        d.dim === eqn.params.updateDim ? NONE : (t.axes.get(d.dim) ?? NONE),
      ]),
    );
    return {
      operands: [t, target(u), index ? target(new Map()) : null],
      results: [t],
    };
  },
  [Primitive.Rename]: (eqn, [x]) => {
    const t = target(axesOf(x!), x!.partial);
    return {
      operands: [t],
      results: [target(rename(t.axes as AxesMap, eqn.params.from, eqn.params.to), x!.partial)],
    };
  },
  // A split dim's axes stay on its major part when their product divides it. When a prefix of
  // them spans the major part exactly (N_XY → K_X, G_Y with |X| = K), the rest go to the next
  // part. Otherwise the leading axes that divide the major part stay on it and the rest are
  // gathered first (N_XY → K_X, G with |X| < K).
  [Primitive.Split]: (eqn, [x], ctx) => {
    const axes = axesOf(x!);
    const have = axes.get(eqn.params.dim) ?? NONE;
    const parts = eqn.params.into;
    const size = (as: readonly string[]) => as.reduce((k, a) => k * ctx.axisSize(a), 1);
    const assigned = new Map<string, readonly string[]>(parts.map((p) => [p, NONE]));
    if (ctx.dims[parts[0]!]! % size(have) === 0) {
      assigned.set(parts[0]!, have);
    } else {
      let k = 0;
      while (k < have.length && size(have.slice(0, k + 1)) <= ctx.dims[parts[0]!]!) k++;
      const rest = have.slice(k);
      const exact = size(have.slice(0, k)) === ctx.dims[parts[0]!]!;
      if (exact && parts.length > 1 && ctx.dims[parts[1]!]! % size(rest) === 0) {
        assigned.set(parts[0]!, have.slice(0, k));
        assigned.set(parts[1]!, rest);
      } else {
        // Keep the leading axes whose product divides the major part (N_XY → K_X with |X| < K)
        // and gather only the rest.
        let p = 0;
        while (p < have.length && ctx.dims[parts[0]!]! % size(have.slice(0, p + 1)) === 0) p++;
        axes.set(eqn.params.dim, have.slice(0, p));
        assigned.set(parts[0]!, have.slice(0, p));
      }
    }
    const out = new Map<string, readonly string[]>();
    for (const [d, a] of axes) {
      if (d !== eqn.params.dim) out.set(d, a);
      else for (const p of parts) out.set(p, assigned.get(p)!);
    }
    return { operands: [target(axes, x!.partial)], results: [target(out, x!.partial)] };
  },
  // A merged dim keeps its major part's axes; sharded minor parts are gathered first.
  [Primitive.Merge]: (eqn, [x]) => {
    const [major, ...minor] = eqn.params.dims;
    const t = unshard(x!, minor, true);
    const out = new Map<string, readonly string[]>();
    for (const [d, a] of t.axes) {
      if (d === major) out.set(eqn.params.into, a);
      else if (!minor.includes(d)) out.set(d, a);
    }
    return { operands: [t], results: [target(out, x!.partial)] };
  },
  [Primitive.Concatenate]: (eqn, operands) => {
    const first = unshard(operands[0]!, [eqn.params.inputDims[0]!], false);
    const want = operands.map((o, i) => {
      const d = eqn.params.inputDims[i]!;
      return target(
        new Map(o!.dims.map((x) => [x.dim, x.dim === d ? NONE : (first.axes.get(x.dim) ?? NONE)])),
      );
    });
    return {
      operands: want,
      results: [target(rename(first.axes as AxesMap, eqn.params.inputDims[0]!, eqn.params.dim))],
    };
  },
  // The head dim stays whole. A key dim split in k (a sequence-split KV cache) stays split:
  // each device attends to its keys and lowering combines the results over those axes
  // (flash-decoding). Other dims q shares with k and v (batch, KV heads) take k's axes first —
  // the cache stays put and q is sliced or moved to match — and q's own where k has none.
  [Primitive.FlashAttention]: (eqn, [q, k, v]) => {
    const { key, head } = eqn.params;
    const qAxes = axesOf(q!);
    const kAxes = axesOf(k!);
    const keyAxes = kAxes.get(key) ?? NONE;
    const used = new Set<string>(keyAxes);
    const chosen = new Map<string, readonly string[]>([[key, keyAxes]]);
    // The cache's own split first (it must not move), then q's for the dims k leaves whole.
    const pickFrom = (axesOf: (dim: string) => readonly string[]) => {
      for (const d of q!.dims) {
        if (d.dim === head || chosen.has(d.dim)) continue;
        const pick = axesOf(d.dim);
        if (pick.length === 0 || !pick.every((a) => !used.has(a))) continue;
        chosen.set(d.dim, pick);
        for (const a of pick) used.add(a);
      }
    };
    pickFrom((dim) => kAxes.get(dim) ?? NONE);
    pickFrom((dim) => qAxes.get(dim) ?? NONE);
    const tq = target(new Map(q!.dims.map((d) => [d.dim, chosen.get(d.dim) ?? NONE])));
    const kv = (a: Aval) =>
      target(
        new Map(a.dims.map((d) => [d.dim, d.dim === head ? NONE : (chosen.get(d.dim) ?? NONE)])),
      );
    return { operands: [tq, kv(k!), kv(v!)], results: [tq], combine: keyAxes };
  },
  [Primitive.Shard]: (eqn) => {
    const t = target(
      new Map(eqn.params.sharding.dims.map((d) => [d.dim, d.axes])),
      eqn.params.sharding.partial,
    );
    return { operands: [t], results: [t] };
  },
  [Primitive.AllGather]: alreadyLowered,
  [Primitive.ReduceScatter]: alreadyLowered,
  [Primitive.AllReduce]: alreadyLowered,
  [Primitive.AllToAll]: alreadyLowered,
  [Primitive.ShardSlice]: alreadyLowered,
};

function alreadyLowered(eqn: EqnOf<Primitive>): RuleResult {
  throw new Error(`${eqn.primitive} appears in a program that is already lowered`);
}
