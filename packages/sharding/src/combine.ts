import { type Aval, type Eqn, type EqnOf, Primitive, type Var } from "@shardcost/core";

/** What the combine step needs from lowering: fresh variables and a place to put equations. */
export interface CombineSink {
  newVar(name: string, aval: Aval, id?: number): Var;
  push(eqn: Eqn): void;
}

const f32 = (a: Aval, drop?: string): Aval => ({
  dtype: "f32",
  dims: drop === undefined ? a.dims : a.dims.filter((d) => d.dim !== drop),
  partial: [],
});

/**
 * Emits `eqn` on local shards whose result is each device's share of a reduction over `axes`
 * that is not a sum, and the collectives that combine the shares; returns the combined result
 * under `result`'s id (so later equations read it):
 * - reduce_max: the local max, then AllReduce-max;
 * - flash attention over a split key dim (flash-decoding): each device's normalised output o_i
 *   and log-sum-exp ℓ_i; m = AllReduce-max(ℓ), e_i = exp(ℓ_i − m), and
 *   o = AllReduce(o_i·e_i) / AllReduce(e_i). The e_i and o_i·e_i are summands of the totals, so
 *   they are marked `{U_axes}` before their AllReduce.
 */
export function emitCombined(
  eqn: EqnOf<Primitive.ReduceMax> | EqnOf<Primitive.FlashAttention>,
  inputs: readonly Eqn["inputs"][number][],
  result: Var,
  axes: readonly string[],
  sink: CombineSink,
  origin: Eqn,
): Var {
  const note = `combine over ${axes.join("")} for ${result.name} = ${eqn.primitive}`;
  const at = (primitive: Primitive, params: unknown, ins: readonly Var[], out: Var): Var => {
    sink.push({ primitive, params, inputs: ins, outputs: [out], note, origin } as Eqn);
    return out;
  };
  const local = sink.newVar(`${result.name}ᵢ`, result.aval);
  const allReduce = (x: Var, name: string, op?: "max") =>
    at(
      Primitive.AllReduce,
      op ? { axes, op } : { axes },
      [x],
      sink.newVar(name, { ...x.aval, partial: [] }),
    );
  const asPartial = (x: Var, name: string) =>
    at(
      Primitive.Shard,
      { sharding: { dims: x.aval.dims, partial: axes } },
      [x],
      sink.newVar(name, { ...x.aval, partial: axes }),
    );
  if (eqn.primitive === Primitive.ReduceMax) {
    sink.push({ ...eqn, inputs, outputs: [local] });
    const out = at(Primitive.AllReduce, { axes, op: "max" }, [local], {
      ...result,
      kind: "var",
    });
    return out;
  }
  const head = eqn.params.head;
  const lse = sink.newVar(`${result.name}ℓ`, f32(result.aval, head));
  sink.push({ ...eqn, params: { ...eqn.params, stats: true }, inputs, outputs: [local, lse] });
  const m = allReduce(lse, `${result.name}m`, "max");
  const d = at(Primitive.Sub, {}, [lse, m], sink.newVar(`${result.name}d`, lse.aval));
  const e = at(Primitive.Exp, {}, [d], sink.newVar(`${result.name}e`, lse.aval));
  const l = allReduce(asPartial(e, `${result.name}e'`), `${result.name}l`);
  const dtype = result.aval.dtype;
  const cast = (x: Var, name: string) =>
    at(Primitive.Cast, { dtype }, [x], sink.newVar(name, { ...x.aval, dtype }));
  const weighted = at(
    Primitive.Mul,
    {},
    [local, cast(e, `${result.name}e_`)],
    sink.newVar(`${result.name}w`, result.aval),
  );
  const total = allReduce(asPartial(weighted, `${result.name}w'`), `${result.name}Σ`);
  return at(Primitive.Div, {}, [total, cast(l, `${result.name}l_`)], result);
}
