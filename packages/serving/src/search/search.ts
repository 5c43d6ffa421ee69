import { ShardcostError } from "@shardcost/core";
import type { LlamaConfig } from "@shardcost/ops";
import type { Mesh } from "@shardcost/sharding";
import { StepEstimator } from "../engine.js";
import type { ResolvedLayout } from "../layouts/axes.js";
import { type BaseLayoutName, resolveLayout } from "../layouts/presets.js";
import type { StepCosts } from "../periodic.js";
import type { StepQuery } from "../step.js";
import {
  allPoints,
  CHOICE_DIMS,
  choiceValues,
  interchangeableAxes,
  type LayoutPoint,
  layoutKey,
  placePoint,
  presetPoints,
  type SearchStep,
  spaceSize,
  structures,
} from "./space.js";

/**
 * Costs many layouts of one step: in this thread (`localEvaluator`) or spread over worker
 * threads (`workerEvaluator`). Each result is the step's costs, or why the layout cannot run.
 */
export type Evaluator = (
  layouts: readonly ResolvedLayout[],
) => Promise<readonly (StepCosts | { readonly error: string })[]>;

/** Evaluators of one model on one mesh in this thread, one engine for every step asked. */
export function localEvaluator(config: LlamaConfig, m: Mesh): (query: StepQuery) => Evaluator {
  const engine = new StepEstimator();
  return (query) => async (layouts) => layouts.map((l) => evaluateOne(engine, config, query, l, m));
}

/** One layout's costs, or the typed error that says why it cannot run. */
export function evaluateOne(
  engine: StepEstimator,
  config: LlamaConfig,
  query: StepQuery,
  layout: ResolvedLayout,
  m: Mesh,
): StepCosts | { readonly error: string } {
  try {
    return engine.step(config, query, layout, m);
  } catch (e) {
    if (e instanceof ShardcostError) return { error: e.message };
    throw e;
  }
}

/** How the search stops early: a wall-clock budget and a cap on layouts costed. */
export interface SearchBudget {
  readonly seconds?: number;
  readonly evaluations?: number;
}

/** What the search asks for. */
export interface SearchOptions {
  /** Beam width where the space is too big to cost every layout (default 8). */
  readonly beam?: number;
  /** Cost every layout when the space has at most this many distinct ones (default 400). */
  readonly exhaustiveUpTo?: number;
  /** Stops the search early (the named layouts are costed all the same). */
  readonly budget?: SearchBudget;
  /** Default: this thread. */
  readonly evaluate?: Evaluator;
  /** Only costed layouts with a step at most this long count (a latency bound, seconds). */
  readonly maxStepS?: number;
  /**
   * Search one part of the space: the structures (or, when small, the distinct layouts) whose
   * index is `index` modulo `of`, 0-based. The parts of a split search, each run anywhere, merge
   * by taking the best (`compareCandidates`); every part costs the named layouts.
   */
  readonly part?: { readonly index: number; readonly of: number };
}

/** A costed layout: what it is, its per-role layout and its costs. */
export interface Candidate {
  /** The point of the space, or the named layout it is. */
  readonly point: LayoutPoint | undefined;
  readonly preset: BaseLayoutName | undefined;
  readonly layout: ResolvedLayout;
  readonly key: string;
  readonly costs: StepCosts;
}

/** A search's answer. */
export interface SearchResult {
  /** The best layout found (a named one when none beats it). */
  readonly best: Candidate | undefined;
  /** Each named layout on the same step (those that cannot run give their reason). */
  readonly presets: readonly {
    readonly name: BaseLayoutName;
    readonly candidate: Candidate | undefined;
    readonly error?: string;
  }[];
  /** The best few found, best first. */
  readonly top: readonly Candidate[];
  /** Distinct layouts costed, and layouts that could not run. */
  readonly evaluated: number;
  readonly rejected: number;
  /** Points in the whole space (before equal layouts are merged). */
  readonly spaceSize: number;
  /** Whether every distinct layout of the space was costed. */
  readonly exhausted: boolean;
  /** Whether a budget stopped the search before it was done. */
  readonly stoppedByBudget: boolean;
  /** How the space was searched. */
  readonly method: "exhaustive" | "beam";
  readonly seconds: number;
}

const PRESET_ORDER: readonly BaseLayoutName[] = ["1d-ws", "2d-ws", "weight-gathered", "fsdp"];

/** Named layouts first on a tie, in the order of `PRESET_ORDER`. */
const presetRank = (c: Candidate) =>
  c.preset === undefined ? PRESET_ORDER.length : PRESET_ORDER.indexOf(c.preset);

/**
 * Candidates ranked: layouts that fit in HBM (and meet the latency bound) first, then by the
 * overlapped step, a named layout before an equal one, then by key — a total order, so the search is deterministic.
 */
export function compareCandidates(maxStepS = Number.POSITIVE_INFINITY) {
  const rank = (c: Candidate) =>
    (c.costs.memory.fits ? 0 : 2) + (c.costs.totals.stepS <= maxStepS ? 0 : 1);
  return (a: Candidate, b: Candidate): number =>
    rank(a) - rank(b) ||
    a.costs.totals.stepS - b.costs.totals.stepS ||
    presetRank(a) - presetRank(b) ||
    (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

/**
 * The fastest per-role layout of a LLaMA-family step on `m` (the overlapped step time, among
 * layouts that fit in HBM): the named layouts are costed first and always compete; then every
 * distinct layout of the space when it is small (`exhaustiveUpTo`), else a beam search — every
 * structure (gathered axes, D-axes, the order of the model-parallel axes) with the named
 * layouts' per-role choices, then each per-role choice varied in turn around the best `beam`
 * layouts, twice over. Layouts that only swap interchangeable axes, or that place every role the
 * same, are costed once. Every cost comes from tracing and lowering the layout (two- and
 * three-layer models, extrapolated).
 */
export async function searchLayouts(
  config: LlamaConfig,
  query: StepQuery,
  m: Mesh,
  options: SearchOptions = {},
): Promise<SearchResult> {
  const started = performance.now();
  const step: SearchStep = { phase: query.phase, batch: query.batch, seq: query.seq ?? 2048 };
  const evaluate = options.evaluate ?? localEvaluator(config, m)(query);
  const beam = options.beam ?? 8;
  const classes = interchangeableAxes(m);
  const order = compareCandidates(options.maxStepS);
  const budget = options.budget ?? {};
  const seen = new Map<string, Candidate | undefined>();
  const errors = new Map<string, string>();
  let rejected = 0;
  let evaluated = 0;
  let stoppedByBudget = false;
  const outOfBudget = () =>
    (budget.seconds !== undefined && (performance.now() - started) / 1000 >= budget.seconds) ||
    (budget.evaluations !== undefined && evaluated >= budget.evaluations);

  /** Costs the layouts not seen yet, in batches the evaluator may spread over threads. */
  const run = async (
    items: readonly { point?: LayoutPoint; preset?: BaseLayoutName; layout: ResolvedLayout }[],
    /** The named layouts are costed whatever the budget: they are what the answer is held to. */
    always = false,
  ): Promise<Candidate[]> => {
    const fresh: (typeof items)[number][] = [];
    const keys: string[] = [];
    for (const it of items) {
      const key = layoutKey(it.layout, classes);
      if (seen.has(key) || keys.includes(key)) continue;
      fresh.push(it);
      keys.push(key);
    }
    const out: Candidate[] = [];
    const chunk = 16;
    for (let i = 0; i < fresh.length; ) {
      if (!always && outOfBudget()) {
        stoppedByBudget = true;
        break;
      }
      const room =
        always || budget.evaluations === undefined
          ? chunk
          : Math.min(chunk, budget.evaluations - evaluated);
      const part = fresh.slice(i, i + room);
      const results = await evaluate(part.map((p) => p.layout));
      part.forEach((it, j) => {
        const r = results[j]!;
        const key = keys[i + j]!;
        evaluated++;
        if ("error" in r) {
          rejected++;
          seen.set(key, undefined);
          errors.set(key, r.error);
          return;
        }
        const cand: Candidate = {
          point: it.point,
          preset: it.preset,
          layout: it.layout,
          key,
          costs: r,
        };
        seen.set(key, cand);
        out.push(cand);
      });
      i += part.length;
    }
    return out;
  };

  // The named layouts first: they always compete, and the answer is never worse than them.
  const presets: SearchResult["presets"][number][] = [];
  for (const name of PRESET_ORDER) {
    let layout: ResolvedLayout;
    try {
      layout = resolveLayout(name, config, m, { ...step, seq: step.seq });
    } catch (e) {
      if (!(e instanceof ShardcostError)) throw e;
      presets.push({ name, candidate: undefined, error: e.message });
      continue;
    }
    const key = layoutKey(layout, classes);
    const costed = seen.has(key) ? seen.get(key) : (await run([{ preset: name, layout }], true))[0];
    presets.push(
      costed
        ? { name, candidate: { ...costed, preset: name } }
        : { name, candidate: undefined, error: errors.get(key) ?? "cannot be lowered" },
    );
  }
  // Presets that are points of the space are searched from as points.
  const presetAt = presetPoints(config, m, step);
  for (const [name, point] of Object.entries(presetAt)) {
    const key = layoutKey(placePoint(config, m, step, point), classes);
    const c = seen.get(key);
    if (c && !c.point) seen.set(key, { ...c, point, preset: c.preset ?? (name as BaseLayoutName) });
  }

  const place = (point: LayoutPoint) => ({ point, layout: placePoint(config, m, step, point) });
  const part = options.part ?? { index: 0, of: 1 };
  const mine = <T>(xs: readonly T[]): T[] => xs.filter((_x, i) => i % part.of === part.index);
  const size = spaceSize(m, step);
  const limit = options.exhaustiveUpTo ?? 400;
  let method: SearchResult["method"] = "beam";
  let exhausted = false;
  // Distinct layouts of a small space, found by placing every point (placing is cheap).
  let distinct: { point: LayoutPoint; layout: ResolvedLayout }[] | undefined;
  if (size <= 20_000) {
    const byKey = new Map<string, { point: LayoutPoint; layout: ResolvedLayout }>();
    for (const p of allPoints(m, step)) {
      const it = place(p);
      const key = layoutKey(it.layout, classes);
      if (!byKey.has(key)) byKey.set(key, it);
    }
    if (byKey.size <= limit) distinct = mine([...byKey.values()]);
  }
  if (distinct) {
    method = "exhaustive";
    await run(distinct);
    exhausted = !stoppedByBudget;
  } else {
    // A part's beam grows from its own structures only (a named layout's belongs to one part).
    const own = mine(structures(m, step));
    const shape = (p: LayoutPoint) => JSON.stringify([p.gather, p.x, p.yz]);
    const ownShapes = new Set(own.map(shape));
    const ranked = () =>
      [...seen.values()]
        .filter((c): c is Candidate => c?.point !== undefined && ownShapes.has(shape(c.point)))
        .sort(order);
    await run(own.map(place));
    for (let pass = 0; pass < 2 && !stoppedByBudget; pass++) {
      const before = ranked()
        .slice(0, beam)
        .map((c) => c.key)
        .join("\n");
      for (const dim of CHOICE_DIMS) {
        if (stoppedByBudget) break;
        const around = ranked().slice(0, beam);
        await run(around.flatMap((c) => choiceValues(c.point!, dim).map(place)));
      }
      const after = ranked()
        .slice(0, beam)
        .map((c) => c.key)
        .join("\n");
      if (after === before) break;
    }
  }

  const all = [...seen.values()].filter((c): c is Candidate => c !== undefined).sort(order);
  return {
    best: all[0],
    presets,
    top: all.slice(0, 5),
    evaluated,
    rejected,
    spaceSize: size,
    exhausted,
    stoppedByBudget,
    method,
    seconds: (performance.now() - started) / 1000,
  };
}
