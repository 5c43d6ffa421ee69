import {
  combineSums,
  type Dims,
  type Estimate,
  type GroupedEstimate,
  groupEstimate,
  groupKey,
  type MemoryEstimate,
  memoryVerdict,
  type OpGroup,
  type StepTotals,
  stepTotals,
} from "@shardcost/core";
import type { LlamaConfig } from "@shardcost/ops";
import type { Mesh } from "@shardcost/sharding";
import { type LayoutName, type ResolvedLayout, resolveLayout } from "./layouts/index.js";
import { compileStep, type StepQuery } from "./step.js";

/**
 * A step's totals and memory per chip, as a sweep needs them (no per-op rows): the part of a
 * `StepReport` that the layer-periodic estimator can produce without tracing every layer.
 */
export interface StepCosts {
  readonly totals: StepTotals;
  readonly memory: MemoryEstimate;
}

/**
 * The costs of a model of `layers` identical layers from traces of two and of three of them:
 * every additive figure is f(2) + (layers − 2)·(f(3) − f(2)), the memory's resident parts
 * likewise, and the activation peak is the three-layer one. Why two and three: a value every
 * layer uses (the position, the RoPE tables, a mask) is resharded once, by the first layer,
 * and later layers reuse it, so only from the second layer on are layers alike; and the peak of
 * live activations is reached in a first, a middle (where those shared values are still live)
 * or the last layer, all of which a three-layer model has. `test/models/engine.test.ts` checks
 * the result against full traces.
 */
export function extrapolateLayers(
  two: Pick<Estimate, "totals" | "memory">,
  three: Pick<Estimate, "totals" | "memory">,
  layers: number,
): StepCosts {
  if (layers < 2) throw new Error("extrapolateLayers needs at least two layers");
  const n = layers - 2;
  const lin = (x: number, y: number) => x + n * (y - x);
  const totals = stepTotals(combineSums(two.totals, three.totals, lin));
  const m1 = two.memory;
  const m2 = three.memory;
  const memory = memoryVerdict(
    {
      paramBytes: lin(m1.paramBytes, m2.paramBytes),
      cacheBytes: lin(m1.cacheBytes, m2.cacheBytes),
      activationBytes: m2.activationBytes,
    },
    m2.capacityBytes,
  );
  return { totals, memory };
}

/**
 * A grouped estimate of a model of `layers` identical layers from its two- and three-layer
 * ones: totals and memory as `extrapolateLayers`, and every group of kernels (one op on one
 * source line) with its count and sums extrapolated the same way — what a full trace's groups
 * are (`test/models/periodic.test.ts`). Undefined when the two do not line up as layers that
 * repeat (a group of the two-layer model missing from the three-layer one, or a count that does
 * not come out whole), so the caller traces in full.
 */
export function extrapolateGroups(
  two: GroupedEstimate,
  three: GroupedEstimate,
  layers: number,
): GroupedEstimate | undefined {
  const n = layers - 2;
  const lin = (x: number, y: number) => x + n * (y - x);
  const before = new Map(two.groups.map((g) => [groupKey(g.first), g]));
  const groups: OpGroup[] = [];
  for (const g of three.groups) {
    const a = before.get(groupKey(g.first));
    before.delete(groupKey(g.first));
    const count = lin(a?.count ?? 0, g.count);
    if (!Number.isInteger(count) || count < 1) return undefined;
    groups.push({
      first: g.first,
      count,
      flops: lin(a?.flops ?? 0, g.flops),
      hbmBytes: lin(a?.hbmBytes ?? 0, g.hbmBytes),
      iciBytes: lin(a?.iciBytes ?? 0, g.iciBytes),
      iciS: lin(a?.iciS ?? 0, g.iciS),
      timeS: lin(a?.timeS ?? 0, g.timeS),
    });
  }
  if (before.size > 0) return undefined;
  const { totals, memory } = extrapolateLayers(two, three, layers);
  return { chip: three.chip, totals, memory, groups, kernels: lin(two.kernels, three.kernels) };
}

/** A whole step's grouped estimate from its two- and three-layer compiles. */
export interface PeriodicStep {
  readonly estimate: GroupedEstimate;
  /** The layout resolved for this model, mesh and step (none without a layout). */
  readonly resolved: ResolvedLayout | undefined;
  /** The step's dim sizes (the depth is not a dim). */
  readonly dims: Dims;
}

/**
 * A LLaMA-family step of any depth from two compiles of two and three layers, extrapolated
 * (`extrapolateGroups`): the per-group rows, totals and memory of a full trace in the time of
 * a three-layer one. Undefined for three layers or fewer, or when the layers do not repeat.
 */
export function compileStepPeriodic(
  config: LlamaConfig,
  query: StepQuery,
  layout: LayoutName | ResolvedLayout | undefined,
  m: Mesh,
): PeriodicStep | undefined {
  if (config.layers <= 3) return undefined;
  const resolved = typeof layout === "string" ? resolveLayout(layout, config, m, query) : layout;
  const two = compileStep({ ...config, layers: 2 }, query, resolved, m).compiled;
  const three = compileStep({ ...config, layers: 3 }, query, resolved, m).compiled;
  const estimate = extrapolateGroups(
    groupEstimate(two.estimate),
    groupEstimate(three.estimate),
    config.layers,
  );
  return estimate && { estimate, resolved, dims: three.lowered.dims };
}
