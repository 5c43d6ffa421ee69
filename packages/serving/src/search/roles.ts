import {
  type Dims,
  type MemoryEstimate,
  printSharding,
  ShardcostError,
  type Sharding,
  type StepTotals,
  type TensorSpec,
  tensor,
} from "@shardcost/core";
import { compile, type Mesh, type Traceable } from "@shardcost/sharding";
import type { SearchBudget } from "./search.js";

/** A model with inputs by name, as a model file gives it. */
export interface RoleModel {
  readonly fn: Traceable<unknown>["fn"];
  readonly inputs: Readonly<Record<string, unknown>>;
  readonly dims: Dims;
}

/** A costed assignment of shardings to a model's roles. */
export interface RoleCandidate {
  /** Each role's sharding in notation, e.g. `{ w1: "Wgate[D_X, F_Y]" }`. */
  readonly roles: Readonly<Record<string, string>>;
  readonly key: string;
  readonly totals: StepTotals;
  readonly memory: MemoryEstimate;
  /** Whether these are the shardings the model file declares. */
  readonly asWritten: boolean;
}

/** The answer of `searchRoles`. */
export interface RoleSearchResult {
  readonly best: RoleCandidate | undefined;
  /** The model's own shardings (undefined when they cannot be lowered on this mesh). */
  readonly asWritten: RoleCandidate | undefined;
  readonly top: readonly RoleCandidate[];
  readonly evaluated: number;
  readonly rejected: number;
  /** Why the first assignment that could not be lowered failed. */
  readonly firstRejection: string | undefined;
  readonly spaceSize: number;
  readonly exhausted: boolean;
  readonly stoppedByBudget: boolean;
  readonly method: "exhaustive" | "beam";
  readonly seconds: number;
}

/**
 * Every sharding of a tensor of `dims` on the mesh: each axis on one dim or on none, axes in
 * mesh order within a dim, each dim's axes dividing its size.
 */
export function roleShardings(
  name: string,
  dims: readonly string[],
  sizes: Dims,
  m: Mesh,
): Sharding[] {
  let out: string[][][] = [dims.map(() => [])];
  for (const a of m.axes) {
    const next: string[][][] = [];
    for (const s of out) {
      next.push(s);
      dims.forEach((d, i) => {
        const k = s[i]!.reduce((n, x) => n * m.axes.find((y) => y.name === x)!.size, 1) * a.size;
        const n = sizes[d];
        if (n !== undefined && n % k === 0)
          next.push(s.map((axes, j) => (j === i ? [...axes, a.name] : axes)));
      });
    }
    out = next;
  }
  return out.map((s) => ({
    name,
    dims: dims.map((dim, i) => ({ dim, axes: s[i]! })),
    partial: [],
  }));
}

const isSpec = (x: unknown): x is TensorSpec =>
  typeof x === "object" && x !== null && (x as TensorSpec).kind === "tensor-spec";

/**
 * The fastest shardings of a model's declared roles (its inputs, by name) on `m`: the model's
 * own shardings are costed first and always compete; every combination when there are at most
 * `exhaustiveUpTo`, else a beam search that varies one role at a time around the best `beam`
 * assignments (twice over). Each assignment is traced, lowered and costed (`compile`); one that
 * cannot be lowered (a constraint in the model it conflicts with) is counted as rejected.
 * Deterministic: ties go to the model's own shardings, then to the lower key.
 */
export function searchRoles(
  model: RoleModel,
  roles: readonly string[],
  m: Mesh,
  options: { beam?: number; exhaustiveUpTo?: number; budget?: SearchBudget } = {},
): RoleSearchResult {
  const started = performance.now();
  const specs = new Map<string, TensorSpec>();
  for (const r of roles) {
    const s = model.inputs[r];
    if (!isSpec(s)) {
      throw new ShardcostError("input", `role ${r} is not a tensor of the model's inputs`);
    }
    specs.set(r, s);
  }
  const options_ = roles.map((r) => {
    const s = specs.get(r)!;
    return roleShardings(
      s.sharding.name ?? r,
      s.sharding.dims.map((d) => d.dim),
      model.dims,
      m,
    );
  });
  const size = options_.reduce((n, o) => n * o.length, 1);
  const budget = options.budget ?? {};
  const seen = new Map<string, RoleCandidate | undefined>();
  let evaluated = 0;
  let rejected = 0;
  let firstRejection: string | undefined;
  let stoppedByBudget = false;
  const outOfBudget = () =>
    (budget.seconds !== undefined && (performance.now() - started) / 1000 >= budget.seconds) ||
    (budget.evaluations !== undefined && evaluated >= budget.evaluations);

  const written = roles.map((r) => specs.get(r)!.sharding);
  const keyOf = (choice: readonly Sharding[]) => choice.map((s) => printSharding(s)).join(" ");
  const writtenKey = keyOf(written);
  const cost = (choice: readonly Sharding[], always = false): RoleCandidate | undefined => {
    const key = keyOf(choice);
    if (seen.has(key)) return seen.get(key);
    if (!always && outOfBudget()) {
      stoppedByBudget = true;
      return undefined;
    }
    evaluated++;
    const inputs: Record<string, unknown> = { ...model.inputs };
    roles.forEach((r, i) => {
      const s = specs.get(r)!;
      inputs[r] = tensor(choice[i]!, s.dtype, s.role);
    });
    try {
      const e = compile({ fn: model.fn, inputs, dims: model.dims }, { mesh: m }).estimate;
      const c: RoleCandidate = {
        roles: Object.fromEntries(roles.map((r, i) => [r, printSharding(choice[i]!)])),
        key,
        totals: e.totals,
        memory: e.memory,
        asWritten: key === writtenKey,
      };
      seen.set(key, c);
      return c;
    } catch (e) {
      if (!(e instanceof ShardcostError)) throw e;
      rejected++;
      firstRejection ??= e.message;
      seen.set(key, undefined);
      return undefined;
    }
  };
  const order = (a: RoleCandidate, b: RoleCandidate) =>
    Number(b.memory.fits) - Number(a.memory.fits) ||
    a.totals.stepS - b.totals.stepS ||
    Number(b.asWritten) - Number(a.asWritten) ||
    (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  const ranked = () =>
    [...seen.values()].filter((c): c is RoleCandidate => c !== undefined).sort(order);

  const asWritten = cost(written, true);
  const limit = options.exhaustiveUpTo ?? 400;
  const method = size <= limit ? "exhaustive" : "beam";
  if (method === "exhaustive") {
    const walk = (i: number, acc: Sharding[]) => {
      if (stoppedByBudget) return;
      if (i === roles.length) {
        cost(acc);
        return;
      }
      for (const s of options_[i]!) walk(i + 1, [...acc, s]);
    };
    walk(0, []);
  } else {
    const beam = options.beam ?? 8;
    const choiceOf = (c: RoleCandidate) =>
      roles.map((_r, i) => options_[i]!.find((s) => printSharding(s) === c.roles[roles[i]!])!);
    if (ranked().length === 0) {
      // The model's own shardings do not lower here: start from every role replicated.
      cost(options_.map((o) => o[0]!));
    }
    for (let pass = 0; pass < 2 && !stoppedByBudget; pass++) {
      const before = ranked()
        .slice(0, beam)
        .map((c) => c.key)
        .join("|");
      for (let i = 0; i < roles.length && !stoppedByBudget; i++) {
        for (const c of ranked().slice(0, beam)) {
          const base = choiceOf(c);
          for (const s of options_[i]!) cost(base.map((x, j) => (j === i ? s : x)));
        }
      }
      if (
        ranked()
          .slice(0, beam)
          .map((c) => c.key)
          .join("|") === before
      ) {
        break;
      }
    }
  }
  const all = ranked();
  return {
    best: all[0],
    asWritten,
    top: all.slice(0, 5),
    evaluated,
    rejected,
    firstRejection,
    spaceSize: size,
    exhausted: method === "exhaustive" && !stoppedByBudget,
    stoppedByBudget,
    method,
    seconds: (performance.now() - started) / 1000,
  };
}
