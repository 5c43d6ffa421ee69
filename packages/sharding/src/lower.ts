import {
  type Atom,
  type Aval,
  aval,
  type DimSharding,
  debugPass,
  type Eqn,
  entry,
  internAval,
  knownVarCount,
  OpMemo,
  Primitive,
  type Program,
  type ProgramInput,
  packed,
  printOp,
  printProgram,
  printType,
  resharded,
  ShardcostError,
  type Sharding,
  type SourceLocation,
  shapeRules,
  sourceOf,
  type Var,
  varCountOf,
} from "@shardcost/core";
import { emitCombined } from "./combine.js";
import type { Mesh } from "./mesh.js";
import { planReshard, type ReshardStep, type Target } from "./reshard.js";
import type { RuleContext, RuleResult } from "./rule-types.js";
import { shardingRules } from "./rules.js";
import { axisSize, groupSize, shardingProblem } from "./sizes.js";

const UNCONSTRAINED = Symbol("unconstrained");
const NO_EXTRA: readonly unknown[] = [];

/** A bad sharding for a mesh, or a choice lowering will not make for you. */
export class ShardingError extends ShardcostError {
  constructor(
    code: "sharding" | "ambiguous" | "mesh",
    message: string,
    where?: Eqn,
    program?: Program,
    site?: SourceLocation,
  ) {
    const loc = site ?? (where && program ? sourceOf(program, where)?.location : undefined);
    super(code, message, loc);
    this.name = "ShardingError";
  }
}

/** Whether `aval` already has the sharding `t` asks for. */
function alreadyThere(aval: Aval, t: Target): boolean {
  if (aval.partial.length !== t.partial.length) return false;
  for (let i = 0; i < aval.partial.length; i++) if (aval.partial[i] !== t.partial[i]) return false;
  for (const d of aval.dims) {
    const want = t.axes.get(d.dim) ?? NO_AXES;
    if (want.length !== d.axes.length) return false;
    for (let i = 0; i < want.length; i++) if (want[i] !== d.axes[i]) return false;
  }
  return true;
}

const NO_AXES: readonly string[] = [];

function applyTarget(a: Aval, t: Target): Aval {
  return alreadyThere(a, t) ? internAval(a) : resharded(a, t.axes, t.partial);
}

/**
 * What lowering decides from types alone, for one mesh and one set of dim sizes: sharding
 * checks, each op's sharding (by primitive, params, operand types and for an einsum its
 * constraint), reshard plans. Programs lowered for the same mesh at the same sizes share them —
 * a sweep's structures and depths, a search's candidate layouts.
 */
interface Decisions {
  /** Sharding checks already made, by (interned) type: "" when valid, else what is wrong. */
  readonly verdicts: Map<Aval, string>;
  readonly rules: OpMemo<RuleResult>;
  /**
   * Each sharding constraint's decision (it depends on the sharding alone), keyed by the
   * sharding interned as a type of a fixed dtype.
   */
  readonly shards: Map<Aval, RuleResult>;
  /** Reshard chains by (interned) type from and to. */
  readonly plans: Map<Aval, Map<Aval, Chain | null>>;
}

const decided = new WeakMap<Mesh, Map<string, Decisions>>();

function decisionsFor(mesh: Mesh, dims: Readonly<Record<string, number>>): Decisions {
  const bySizes = entry(decided, mesh, () => new Map<string, Decisions>());
  return entry(bySizes, JSON.stringify(dims), () => ({
    verdicts: new Map(),
    rules: new OpMemo(),
    shards: new Map(),
    plans: new Map(),
  }));
}

/** Builds the lowered program: the same equations on local shards, plus collectives. */
class Lowering {
  readonly eqns: Eqn[] = [];
  readonly decisions: Decisions;
  private nextId: number;
  constructor(
    readonly program: Program,
    readonly mesh: Mesh,
  ) {
    this.nextId = varCountOf(program);
    this.decisions = decisionsFor(mesh, program.dims);
    // Sized up front: arrays filled at scattered indices would turn into dictionaries.
    this.movedTo = new Array(this.nextId);
    this.movedVar = new Array(this.nextId);
  }

  /**
   * One more than the largest var id of the lowered program: it holds every traced var (each
   * keeps its id), and the vars lowering adds are numbered from the traced count up.
   */
  get varCount(): number {
    return this.nextId;
  }

  newVar(name: string, aval: Aval, id?: number): Var {
    return { kind: "var", id: id ?? this.nextId++, name, aval: internAval(aval) };
  }

  /**
   * Appends step `k` of a reshard chain. A collective over axes of size 1 moves nothing: it
   * becomes a sharding constraint, free once fused.
   */
  private emit(chain: Chain, k: number, input: Var, note: string, origin: Eqn): Var {
    const step = chain.steps[k]!;
    const aval = chain.avals[k]!;
    const out: Var = { kind: "var", id: this.nextId++, name: `${input.name}'`, aval };
    const shardParams = chain.noOps[k];
    const eqn = shardParams
      ? {
          primitive: Primitive.Shard,
          params: shardParams,
          inputs: [input],
          outputs: [out],
          note: `${note} (no-op: axes of size 1)`,
          origin,
        }
      : {
          primitive: step.primitive,
          params: step.params,
          inputs: [input],
          outputs: [out],
          note,
          origin,
        };
    // Built from a runtime primitive and its params: the Eqn union cannot be narrowed here.
    this.eqns.push(eqn as unknown as Eqn);
    return out;
  }

  /**
   * Values already resharded, by source var id and target type: each move is made once. Most
   * values move to one type, kept in the two arrays; a value's further targets go in the map.
   */
  private readonly movedTo: (Aval | undefined)[];
  private readonly movedVar: (Var | undefined)[];
  private readonly movedMore = new Map<number, Map<Aval, Var>>();

  private moved(id: number, to: Aval): Var | undefined {
    const first = this.movedTo[id];
    if (first === undefined) return undefined;
    if (first === to) return this.movedVar[id];
    return this.movedMore.get(id)?.get(to);
  }

  private remember(id: number, to: Aval, v: Var): void {
    if (this.movedTo[id] === undefined) {
      this.movedTo[id] = to;
      this.movedVar[id] = v;
    } else entry(this.movedMore, id, () => new Map<Aval, Var>()).set(to, v);
  }

  /** The reshard chain from one type to another: a repeated layer plans each move once. */
  private chain(from: Aval, to: Aval, t: Target): Chain | null {
    const byTo = entry(this.decisions.plans, from, () => new Map<Aval, Chain | null>());
    let chain = byTo.get(to);
    if (chain === undefined) {
      const steps = planReshard(
        from,
        t,
        (dim, axes) => this.program.dims[dim]! % groupSize(this.mesh, axes) === 0,
      );
      chain = steps === null ? null : chainOf(steps, from, this.program.dims, this.mesh);
      byTo.set(to, chain);
    }
    return chain;
  }

  /** Reshards `v` to `t`, emitting the collectives it takes (once per value and target). */
  reshard(v: Var, t: Target, cause: Eqn): Var {
    if (alreadyThere(v.aval, t)) return v;
    const to = applyTarget(v.aval, t);
    const done = this.moved(v.id, to);
    if (done) return done;
    const chain = this.chain(v.aval, to, t);
    if (chain === null) {
      throw new ShardingError(
        "sharding",
        `${printOp(cause)}: ${v.name}:${printType(v.aval)} holds no partial sums over ` +
          `${t.partial.join("")}, so it cannot be constrained to {U_${t.partial.join("")}}`,
        cause,
        this.program,
      );
    }
    let cur = v;
    const why = `for ${cause.outputs[0]!.name} = ${printOp(cause)}`;
    for (let k = 0; k < chain.steps.length; k++) cur = this.emit(chain, k, cur, why, cause);
    this.remember(v.id, to, cur);
    return cur;
  }
}

/**
 * A reshard plan with what each step makes, worked out once per (from, to) types: the type
 * after each step (core's shape rules) and, for a step over axes of size 1, the params of the
 * sharding constraint it becomes.
 */
interface Chain {
  readonly steps: readonly ReshardStep[];
  readonly avals: readonly Aval[];
  readonly noOps: readonly ({ readonly sharding: Sharding } | undefined)[];
}

function chainOf(
  steps: readonly ReshardStep[],
  from: Aval,
  dims: Readonly<Record<string, number>>,
  mesh: Mesh,
): Chain {
  const avals: Aval[] = [];
  const noOps: ({ readonly sharding: Sharding } | undefined)[] = [];
  let cur = from;
  for (const s of steps) {
    const rule = shapeRules[s.primitive] as (i: readonly Aval[], p: unknown, c: object) => Aval[];
    cur = internAval(rule([cur], s.params, { dims })[0]!);
    avals.push(cur);
    const axes = (s.params as { axes?: readonly string[] }).axes ?? [];
    const trivial = axes.every((a) => axisSize(mesh, a) === 1);
    noOps.push(trivial ? { sharding: { dims: cur.dims, partial: cur.partial } } : undefined);
  }
  return { steps, avals, noOps };
}

function check(
  aval: Aval,
  what: string,
  lowering: Lowering,
  eqn?: Eqn,
  site?: SourceLocation,
): void {
  // The same type checks the same way: remember the verdicts (types are interned).
  const key = internAval(aval);
  let problem = lowering.decisions.verdicts.get(key);
  if (problem === undefined) {
    problem = shardingProblem(aval, lowering.program.dims, lowering.mesh) ?? "";
    lowering.decisions.verdicts.set(key, problem);
  }
  if (problem !== "") {
    const op = eqn ? `${printOp(eqn)}: ` : "";
    throw new ShardingError(
      "sharding",
      `${op}${what} ${printType(aval)}: ${problem}`,
      eqn,
      lowering.program,
      site,
    );
  }
}

/** The constraint that is the sole reader of each result, by var id, where there is one. */
function constraints(program: Program): (Sharding | undefined)[] {
  const n = varCountOf(program);
  const readers = new Int32Array(n);
  const last: (Eqn | undefined)[] = new Array(n);
  for (let k = 0; k < program.eqns.length; k++) {
    const e = program.eqns[k]!;
    for (let i = 0; i < e.inputs.length; i++) {
      const a = e.inputs[i]!;
      if (a.kind !== "var" || last[a.id] === e) continue;
      readers[a.id]!++;
      last[a.id] = e;
    }
  }
  return last.map((e, id) =>
    e && readers[id] === 1 && e.primitive === Primitive.Shard ? e.params.sharding : undefined,
  );
}

function ambiguous(v: Var, eqn: Eqn | undefined, path: string, lowering: Lowering): ShardingError {
  const axes = v.aval.partial.join("");
  const full: Aval = { ...v.aval, partial: [] };
  const scatter = v.aval.dims
    .filter((d) => d.axes.length === 0)
    .map((d) => {
      const onto: Aval = {
        ...full,
        dims: full.dims.map(
          (x): DimSharding => (x.dim === d.dim ? { dim: x.dim, axes: v.aval.partial } : x),
        ),
      };
      return `ReduceScatter_${axes} onto ${d.dim} → ${printType(onto)}`;
    });
  const choices = [`AllReduce_${axes} → ${printType(full)}`, ...scatter, `keep {U_${axes}}`];
  const made = eqn ? ` (made by ${printOp(eqn)})` : "";
  return new ShardingError(
    "ambiguous",
    `output ${path} = ${v.name}:${printType(v.aval)}${made} is a partial sum over ${axes}: ` +
      `${choices.join(", ")} — say which with shard()`,
    eqn,
    lowering.program,
  );
}

/** A mean over sharded dims divides its local sum by the global count. */
function withGlobalCount(eqn: Eqn, program: Program): Eqn {
  if (eqn.primitive !== Primitive.ReduceMean) return eqn;
  const x = eqn.inputs[0]!;
  if (x.kind !== "var") return eqn;
  const sharded = x.aval.dims.some((d) => eqn.params.dims.includes(d.dim) && d.axes.length > 0);
  if (!sharded) return eqn;
  const count = eqn.params.dims.reduce((n, d) => n * program.dims[d]!, 1);
  return { ...eqn, params: { ...eqn.params, count } };
}

/**
 * The SPMD program for `mesh`: every equation on local shards, with the AllGather /
 * ReduceScatter / AllReduce / AllToAll its sharding rule calls for, each noted with the
 * equation that caused it. Partial sums stay `{U_X}` until a consumer or a `shard()` needs
 * them reduced; a partial sum that reaches an output unconstrained is an error listing the
 * choices.
 */
export function lower(program: Program, mesh: Mesh): Program {
  const lowering = new Lowering(program, mesh);
  // Each traced var's lowered counterpart, by var id.
  const env: Var[] = new Array(varCountOf(program));
  const inputs: ProgramInput[] = program.inputs.map((input) => {
    check(input.var.aval, `input ${input.path}`, lowering, undefined, input.site?.location);
    env[input.var.id] = input.var;
    return input;
  });
  const downstream = constraints(program);
  const outputIds = new Set(program.outputs.map((o) => o.var.id));
  const sizeOf = (a: string) => axisSize(mesh, a);
  const memo = lowering.decisions.rules;
  const ctx: { -readonly [K in keyof RuleContext]: RuleContext[K] } = {
    dims: program.dims,
    axisSize: sizeOf,
    constraint: undefined,
    output: false,
  };
  // Operands and their types, one pair of lists per arity reused by every equation (the rules
  // and the memo read them and keep neither), and the einsum's extra keys.
  const currents: (Var | null)[][] = [];
  const avalLists: (Aval | null)[][] = [];
  const atomLists: Atom[][] = [];
  const varLists: Var[][] = [];
  const einsumKeys: unknown[] = [undefined, false];
  const eqns = program.eqns;
  for (let e = 0; e < eqns.length; e++) {
    const eqn = eqns[e]!;
    const n = eqn.inputs.length;
    if (currents[n] === undefined) {
      currents[n] = new Array<Var | null>(n);
      avalLists[n] = new Array<Aval | null>(n);
      atomLists[n] = new Array<Atom>(n);
    }
    const current = currents[n]!;
    const avals = avalLists[n]!;
    for (let i = 0; i < n; i++) {
      const a = eqn.inputs[i]!;
      const v = a.kind === "var" ? env[a.id]! : null;
      current[i] = v;
      avals[i] = v === null ? null : v.aval;
    }
    ctx.constraint = downstream[eqn.outputs[0]!.id];
    ctx.output = outputIds.has(eqn.outputs[0]!.id);
    if (eqn.primitive === Primitive.Shard) {
      check(eqn.outputs[0]!.aval, "constraint", lowering, eqn);
    }
    const rule = shardingRules[eqn.primitive] as (
      e: Eqn,
      o: readonly (Aval | null)[],
      c: RuleContext,
    ) => RuleResult;
    // A decision depends on the primitive, params and operand types, and for an einsum on the
    // constraint downstream (keyed by its sharding, interned as a type of a fixed dtype) and
    // whether the result is an output: repeated layers decide once.
    const c = ctx.constraint;
    let extra = NO_EXTRA;
    if (eqn.primitive === Primitive.Einsum) {
      einsumKeys[0] = c ? aval("bf16", c.dims, c.partial) : UNCONSTRAINED;
      einsumKeys[1] = ctx.output === true;
      extra = einsumKeys;
    }
    let decided: RuleResult;
    if (eqn.primitive === Primitive.Shard) {
      const s = eqn.params.sharding;
      decided = entry(lowering.decisions.shards, aval("bf16", s.dims, s.partial), () =>
        rule(eqn, avals, ctx),
      );
    } else {
      const slot = memo.at(eqn.primitive, eqn.params, avals, extra);
      decided = slot?.value ?? rule(eqn, avals, ctx);
      if (slot) slot.value = decided;
    }
    // Values whose type lowering leaves alone keep their traced var, and an equation whose
    // operands and results all stay is kept as it is: no copies for replicated work.
    // The operands and results as lowered go through the scratch lists; an equation that
    // changes keeps packed copies.
    const atoms = atomLists[n]!;
    let inputsNow = eqn.inputs;
    let moved = false;
    for (let i = 0; i < n; i++) {
      const v = current[i];
      const t = decided.operands[i];
      const a = v && t ? lowering.reshard(v, t, eqn) : eqn.inputs[i]!;
      atoms[i] = a;
      if (a !== eqn.inputs[i]) moved = true;
    }
    if (moved) inputsNow = packed(atoms, n);
    const results = eqn.outputs;
    let vars = varLists[results.length];
    if (vars === undefined) {
      vars = new Array<Var>(results.length);
      varLists[results.length] = vars;
    }
    let changed = false;
    for (let i = 0; i < results.length; i++) {
      const o = results[i]!;
      const aval = applyTarget(o.aval, decided.results[i]!);
      check(aval, `result ${o.name}`, lowering, eqn);
      const v = aval === o.aval ? o : lowering.newVar(o.name, aval, o.id);
      env[o.id] = v;
      vars[i] = v;
      if (v !== o) changed = true;
    }
    const outputs = changed ? packed(vars, results.length) : results;
    const lowered =
      inputsNow === eqn.inputs && outputs === eqn.outputs
        ? eqn
        : ({
            primitive: eqn.primitive,
            params: eqn.params,
            inputs: inputsNow,
            outputs,
            source: eqn.source,
          } as Eqn);
    const combine = decided.combine ? decided.combine.filter((a) => sizeOf(a) > 1) : NO_AXES;
    if (
      combine.length > 0 &&
      (lowered.primitive === Primitive.ReduceMax || lowered.primitive === Primitive.FlashAttention)
    ) {
      emitCombined(
        lowered,
        inputsNow,
        outputs[0]!,
        combine,
        {
          newVar: (name, aval, id) => lowering.newVar(name, aval, id),
          push: (e) => lowering.eqns.push(e),
        },
        eqn,
      );
      continue;
    }
    lowering.eqns.push(withGlobalCount(lowered, program));
  }
  const outputs = program.outputs.map((o) => {
    const v = env[o.var.id]!;
    if (v.aval.partial.length > 0) {
      const maker = program.eqns.find((e) => e.outputs.some((x) => x.id === o.var.id));
      throw ambiguous(v, maker, o.path, lowering);
    }
    return { var: v, path: o.path };
  });
  const lowered: Program = {
    dims: program.dims,
    inputs,
    eqns: lowering.eqns,
    outputs,
    ...(program.retrace ? { retrace: program.retrace } : {}),
  };
  knownVarCount(lowered, lowering.varCount);
  debugPass(`lower (${mesh.axes.map((a) => `${a.name}=${a.size}`).join(" ")})`, () =>
    printProgram(lowered),
  );
  return lowered;
}
