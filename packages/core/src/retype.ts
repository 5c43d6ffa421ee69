import { withDtype } from "./aval.js";
import type { DType } from "./dtype.js";
import { varCountOf } from "./graph.js";
import type { Atom, Eqn, InputRole, Program, Var } from "./ir.js";
import { Primitive } from "./primitives.js";

/** A change of the dtype a program stores its weights or caches in. */
export interface StorageRetype {
  readonly from: DType;
  readonly to: DType;
}

/**
 * Whether a primitive's result keeps its first operand's dtype, so a stored dtype passes
 * through it (constraints, collectives, lookups, layout ops, slices, in-place updates). Total:
 * a new primitive must say.
 */
const passesDtype: { readonly [P in Primitive]: boolean } = {
  [Primitive.Einsum]: false,
  [Primitive.Exp]: false,
  [Primitive.Log]: false,
  [Primitive.Tanh]: false,
  [Primitive.Rsqrt]: false,
  [Primitive.Neg]: false,
  [Primitive.Silu]: false,
  [Primitive.Gelu]: false,
  [Primitive.Cast]: false,
  [Primitive.Add]: false,
  [Primitive.Sub]: false,
  [Primitive.Mul]: false,
  [Primitive.Div]: false,
  [Primitive.Max]: false,
  [Primitive.ReduceSum]: false,
  [Primitive.ReduceMax]: false,
  [Primitive.ReduceMean]: false,
  [Primitive.Gather]: true,
  [Primitive.DynamicSlice]: true,
  [Primitive.DynamicUpdateSlice]: true,
  [Primitive.Rename]: true,
  [Primitive.Split]: true,
  [Primitive.Merge]: true,
  [Primitive.Concatenate]: false,
  [Primitive.FlashAttention]: false,
  [Primitive.Shard]: true,
  [Primitive.AllGather]: true,
  [Primitive.ReduceScatter]: true,
  [Primitive.AllReduce]: true,
  [Primitive.AllToAll]: true,
  [Primitive.ShardSlice]: true,
};

/**
 * The same program with its weights (`param`) and caches (`cache`) stored in other dtypes: a
 * sweep over weight and KV dtypes traces and lowers one program per structure and retypes it.
 * What changes: inputs of that role and dtype; every value derived from them by ops that keep
 * it (constraints, collectives, lookups, in-place updates); and a cast that
 * produces an in-place update of a retyped cache (the new keys and values, cast to the cache's
 * dtype). Casts from a stored dtype to the compute dtype are unchanged. Both maps must keep the
 * program's structure: `from` and `to` are either both the compute dtype or both not.
 */
export function retypeStorage(
  program: Program,
  change: Partial<Record<Exclude<InputRole, "activation">, StorageRetype>>,
): Program {
  const to = new Map<number, DType>();
  for (const input of program.inputs) {
    const c = input.role === "activation" ? undefined : change[input.role];
    if (c && c.from !== c.to && input.var.aval.dtype === c.from) to.set(input.var.id, c.to);
  }
  if (to.size === 0) return program;
  // Each var's producing equation, by id: needed only to follow a retyped cache's updates back.
  let producers: (Eqn | undefined)[] | undefined;
  const producer = (id: number): Eqn | undefined => {
    if (producers === undefined) {
      producers = new Array<Eqn | undefined>(varCountOf(program));
      for (const e of program.eqns) for (const o of e.outputs) producers[o.id] = e;
    }
    return producers[id];
  };
  const castTo = new Map<Eqn, DType>();
  for (const e of program.eqns) {
    const [x] = e.inputs;
    if (!passesDtype[e.primitive] || x?.kind !== "var") continue;
    const dtype = to.get(x.id);
    if (dtype === undefined || e.outputs[0]!.aval.dtype !== x.aval.dtype) continue;
    for (const o of e.outputs) to.set(o.id, dtype);
    if (e.primitive !== Primitive.DynamicUpdateSlice) continue;
    // The update written into a retyped cache: back through layout ops to its cast.
    let u: Atom | undefined = e.inputs[1];
    const path: number[] = [];
    while (u?.kind === "var") {
      path.push(u.id);
      const p = producer(u.id);
      if (!p) break;
      if (p.primitive === Primitive.Cast) {
        castTo.set(p, dtype);
        for (const id of path) to.set(id, dtype);
        break;
      }
      if (!passesDtype[p.primitive]) break;
      u = p.inputs[0];
    }
  }
  const vars = new Map<number, Var>();
  const retyped = (v: Var): Var => {
    const dtype = to.get(v.id);
    if (dtype === undefined || dtype === v.aval.dtype) return v;
    let out = vars.get(v.id);
    if (!out) {
      out = { ...v, aval: withDtype(v.aval, dtype) };
      vars.set(v.id, out);
    }
    return out;
  };
  const atom = (a: Atom): Atom => (a.kind === "var" ? retyped(a) : a);
  const eqns = program.eqns.map((e): Eqn => {
    const cast = castTo.get(e);
    const touched = cast !== undefined || e.inputs.some((a) => a.kind === "var" && to.has(a.id));
    if (!touched && !e.outputs.some((o) => to.has(o.id))) return e;
    return {
      ...e,
      ...(cast !== undefined ? { params: { ...e.params, dtype: cast } } : {}),
      inputs: e.inputs.map(atom),
      outputs: e.outputs.map(retyped),
    } as Eqn;
  });
  return {
    ...program,
    inputs: program.inputs.map((i) => ({ ...i, var: retyped(i.var) })),
    eqns,
    outputs: program.outputs.map((o) => ({ ...o, var: retyped(o.var) })),
  };
}
