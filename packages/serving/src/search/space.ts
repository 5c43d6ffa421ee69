import { ShardcostError } from "@shardcost/core";
import { type LlamaConfig, ROLE_DIMS, type WeightRole } from "@shardcost/ops";
import type { Mesh } from "@shardcost/sharding";
import { splitForTwoD } from "../layouts/2d-ws.js";
import { type Axis, axesOfMesh, fit, type ResolvedLayout, without } from "../layouts/axes.js";
import { noteSpec, toLayout, weightRoles } from "../layouts/placement.js";
import { weightGathered } from "../layouts/weight-gathered.js";
import { type WsChoices, weightStationary } from "../layouts/weight-stationary.js";

/** What the KV cache splits after its heads (see `WsChoices.cache`). */
export type CacheChoice = NonNullable<WsChoices["cache"]>;
/** The residual between blocks: sharded on D over every axis, or replicated. */
export type ResidualChoice = NonNullable<WsChoices["residual"]>;

/**
 * One layout of the search space, by mesh axis names: a split of the axes, and for each role
 * group which of its dims each axis shards.
 * - `gather`: axes the tokens are split over, every weight gathered over them before its matmul
 *   in its stored dtype (ESTI's weight-gathered G; none: weight-stationary);
 * - `x`: axes that split D in every weight (2D weight-stationary's X); `yz`: the others, in the
 *   order the model-parallel dims (F, heads, vocabulary) take them;
 * - `mlpD`, `attnD`, `vocabD`: axes the MLP weights, Wq/Wo and the embedding tables put on D
 *   rather than on F, the query heads and the vocabulary;
 * - `kvWeights`: on the query-group axes, Wk/Wv split H or D;
 * - `cache`: the KV cache after its heads: batch first, positions first, or replicated;
 * - `residual`: the residual between blocks sharded or replicated.
 */
export interface LayoutPoint {
  readonly gather: readonly string[];
  readonly x: readonly string[];
  readonly yz: readonly string[];
  readonly mlpD: readonly string[];
  readonly attnD: readonly string[];
  readonly vocabD: readonly string[];
  readonly kvWeights: "H" | "D";
  readonly cache: CacheChoice;
  readonly residual: ResidualChoice;
}

/** The step a point is placed for. */
export interface SearchStep {
  readonly phase: "prefill" | "decode";
  readonly batch: number;
  readonly seq: number;
}

/** The per-role choices of a point, in the order the search varies them. */
export const CHOICE_DIMS = [
  "attnD",
  "mlpD",
  "kvWeights",
  "cache",
  "residual",
  "vocabD",
] as const satisfies readonly (keyof LayoutPoint)[];
/** One of the per-role choices. */
export type ChoiceDim = (typeof CHOICE_DIMS)[number];

const CACHE_CHOICES: readonly CacheChoice[] = ["batch", "sequence", "replicate"];
const RESIDUAL_CHOICES: readonly ResidualChoice[] = ["sharded", "replicated"];

/** Every subset of `xs`, each in the order of `xs` (the empty one first). */
function subsets<T>(xs: readonly T[]): T[][] {
  const out: T[][] = [[]];
  for (const x of xs) for (const s of [...out]) out.push([...s, x]);
  return out.map((s) => xs.filter((x) => s.includes(x)));
}

function permutations<T>(xs: readonly T[]): T[][] {
  if (xs.length <= 1) return [[...xs]];
  return xs.flatMap((x, i) =>
    permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]),
  );
}

const nameList = (axes: readonly Axis[]): string[] => axes.map((a) => a.name);

/** The axes a step's tokens split over when `g` is offered (batch, then prompt positions). */
function tokenAxes(step: SearchStep, g: readonly Axis[]): Axis[] {
  const gB = fit(step.batch, g);
  const gT = step.phase === "prefill" ? fit(step.seq, without(g, gB)) : [];
  return [...gB, ...gT];
}

/** A point with every per-role choice at the named layouts' default. */
export function defaultPoint(split: {
  gather?: readonly string[];
  x: readonly string[];
  yz: readonly string[];
}): LayoutPoint {
  return {
    gather: split.gather ?? [],
    x: split.x,
    yz: split.yz,
    mlpD: [],
    attnD: [],
    vocabD: [],
    kvWeights: "H",
    cache: "batch",
    residual: "sharded",
  };
}

/**
 * The structures of the space: every set of gathered axes the tokens divide (none included),
 * every choice of D-axes X among all axes and every order of the rest, each with the default
 * per-role choices.
 */
export function structures(m: Mesh, step: SearchStep): LayoutPoint[] {
  const axes = axesOfMesh(m);
  const out: LayoutPoint[] = [];
  for (const g of subsets(axes)) {
    if (tokenAxes(step, g).length !== g.length) continue; // an axis the tokens do not split
    for (const x of subsets(axes)) {
      for (const yz of permutations(without(axes, x))) {
        out.push(defaultPoint({ gather: nameList(g), x: nameList(x), yz: nameList(yz) }));
      }
    }
  }
  return out;
}

/** The values one per-role choice can take at a point (the point's own among them). */
export function choiceValues(p: LayoutPoint, dim: ChoiceDim): LayoutPoint[] {
  const all = [...p.x, ...p.yz];
  switch (dim) {
    case "attnD":
    case "mlpD":
      return subsets(p.yz).map((v) => ({ ...p, [dim]: v }));
    case "vocabD":
      return subsets(all).map((v) => ({ ...p, vocabD: v }));
    case "kvWeights":
      return (["H", "D"] as const).map((v) => ({ ...p, kvWeights: v }));
    case "cache":
      return CACHE_CHOICES.map((v) => ({ ...p, cache: v }));
    case "residual":
      return RESIDUAL_CHOICES.map((v) => ({ ...p, residual: v }));
    default:
      return dim satisfies never;
  }
}

/** How many points the whole space has (before equal layouts are merged). */
export function spaceSize(m: Mesh, step: SearchStep): number {
  let n = 0;
  for (const s of structures(m, step)) {
    n += CHOICE_DIMS.reduce((k, d) => k * choiceValues(s, d).length, 1);
  }
  return n;
}

/** Every point of the space, structure by structure (use when `spaceSize` is small). */
export function* allPoints(m: Mesh, step: SearchStep): Generator<LayoutPoint> {
  for (const s of structures(m, step)) {
    let points = [s];
    for (const d of CHOICE_DIMS) points = points.flatMap((p) => choiceValues(p, d));
    yield* points;
  }
}

/** The points the named weight-stationary and weight-gathered layouts are. */
export function presetPoints(
  c: LlamaConfig,
  m: Mesh,
  step: SearchStep,
): Record<string, LayoutPoint> {
  const axes = axesOfMesh(m);
  const two = splitForTwoD(c, axes);
  const split = { x: nameList(two.x), yz: nameList(two.yz) };
  return {
    "1d-ws": defaultPoint({ x: [], yz: nameList(axes) }),
    "2d-ws": defaultPoint(split),
    "weight-gathered": defaultPoint({ ...split, gather: nameList(tokenAxes(step, axes)) }),
  };
}

/** A point as the per-role layout the model is traced with. */
export function placePoint(
  c: LlamaConfig,
  m: Mesh,
  step: SearchStep,
  p: LayoutPoint,
): ResolvedLayout {
  const axes = axesOfMesh(m);
  const byName = (ns: readonly string[]): Axis[] =>
    ns.map((n) => {
      const a = axes.find((x) => x.name === n);
      if (!a) {
        throw new ShardcostError(
          "sharding",
          `layout point names axis ${n}, which the mesh does not have (${nameList(axes).join(", ")})`,
        );
      }
      return a;
    });
  const split = { x: byName(p.x), yz: byName(p.yz) };
  const choose: WsChoices = {
    mlpD: byName(p.mlpD),
    attnD: byName(p.attnD),
    vocabD: byName(p.vocabD),
    kvWeights: p.kvWeights,
    cache: p.cache,
    residual: p.residual,
  };
  const placement =
    p.gather.length === 0
      ? weightStationary(c, split, step, choose)
      : weightGathered(c, axes, step, byName(p.gather), { split, choose });
  return toLayout("found", placement);
}

/**
 * Mesh axes that can trade places without changing any cost: the same size, links, bandwidth
 * and wraparound, each on its own physical dimension. Classes of two or more, names sorted.
 */
export function interchangeableAxes(m: Mesh): string[][] {
  const key = (a: Mesh["axes"][number]) =>
    a.physical.length === 1 ? `${a.size}|${a.link}|${a.bandwidth}|${a.wraps}` : undefined;
  const classes = new Map<string, string[]>();
  const physical = new Set<number>();
  for (const a of m.axes) {
    const k = key(a);
    const dim = a.physical[0]!;
    if (k === undefined || physical.has(dim)) continue;
    physical.add(dim);
    classes.set(k, [...(classes.get(k) ?? []), a.name]);
  }
  return [...classes.values()].filter((c) => c.length > 1).map((c) => [...c].sort());
}

/** A value with object keys sorted, so equal layouts print equal. */
function sorted(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sorted);
  if (v === null || typeof v !== "object") return v;
  const o = v as Record<string, unknown>;
  return Object.fromEntries(
    Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => [k, sorted(o[k])]),
  );
}

/**
 * A layout's identity for the search: its roles (not its name or notes) as text, with
 * interchangeable axes renamed in the order they first appear, so two layouts that differ only by
 * swapping equal axes are one.
 */
export function layoutKey(layout: ResolvedLayout, classes: readonly string[][]): string {
  const roles = sorted({ ...layout, name: undefined, choices: undefined });
  const seen: string[] = [];
  const visit = (v: unknown) => {
    if (Array.isArray(v)) {
      for (const x of v) {
        if (typeof x === "string" && x.length === 1 && !seen.includes(x)) seen.push(x);
        else visit(x);
      }
    } else if (v !== null && typeof v === "object") for (const x of Object.values(v)) visit(x);
  };
  visit(roles);
  const rename = new Map<string, string>();
  for (const cls of classes) {
    const order = [...seen.filter((a) => cls.includes(a)), ...cls.filter((a) => !seen.includes(a))];
    for (const [i, a] of order.entries()) rename.set(a, cls[i]!);
  }
  return JSON.stringify(roles, (_k, v) =>
    typeof v === "string" && rename.has(v) ? rename.get(v) : v,
  );
}

/** A weight role's sharding in the book's notation: `Wq[D_X, N_Y, H]`. */
export function roleNotation(layout: ResolvedLayout, role: WeightRole | "kvCache"): string {
  const given = layout[role];
  const dims = ROLE_DIMS[role].replace(/[[\]\s]/g, "").split(",");
  const axes =
    typeof given === "object"
      ? Object.fromEntries(
          Object.entries(given).map(([d, ns]) => [d, ns.map((name) => ({ name, size: 0 }))]),
        )
      : undefined;
  return noteSpec(NOTATION_NAMES[role] ?? role, dims, axes);
}

const NOTATION_NAMES: Partial<Record<WeightRole | "kvCache", string>> = {
  embed: "Embed",
  wq: "Wq",
  wk: "Wk",
  wv: "Wv",
  wo: "Wo",
  gate: "Wgate",
  up: "Wup",
  down: "Wdown",
  unembed: "Unembed",
  kvCache: "KV",
};

/** The roles a layout is printed by: the model's weights, then the KV cache. */
export function printedRoles(c: LlamaConfig): (WeightRole | "kvCache")[] {
  return [...weightRoles(c), "kvCache"];
}
