import type { ActivationRole, DimAxes, LlamaConfig, WeightRole } from "@shardcost/ops";
import { type Axis, dimAxes, on, type ResolvedLayout } from "./axes.js";

/** Axes per dim, as a layout is worked out (converted to names at the end). */
export type Axes = Readonly<Record<string, readonly Axis[]>>;

/** Where a layout puts every role, before it is handed to the model. */
export interface Placement {
  /** How weights are stored. */
  readonly weights: Readonly<Partial<Record<WeightRole, Axes>>>;
  /** How weights are used, where a layout gathers them first. */
  readonly use?: Readonly<Partial<Record<WeightRole, Axes>>>;
  readonly kvCache: Axes;
  readonly activations: Readonly<Partial<Record<ActivationRole, Axes>>>;
  readonly choices: readonly string[];
}

/** The MLP's weight roles (dense or experts) with one sharding for the inputs and outputs. */
export function mlpRoles(
  c: LlamaConfig,
  dense: { readonly gateUp: Axes; readonly down: Axes },
  experts: Axes,
): Partial<Record<WeightRole, Axes>> {
  if (!c.moe) return { gate: dense.gateUp, up: dense.gateUp, down: dense.down };
  return { router: {}, expertGate: experts, expertUp: experts, expertDown: experts };
}

const roleMap = <R extends string>(
  roles: Readonly<Partial<Record<R, Axes>>>,
): Partial<Record<R, DimAxes>> => {
  const out: Partial<Record<R, DimAxes>> = {};
  for (const [r, axes] of Object.entries(roles) as [R, Axes | undefined][]) {
    if (axes) out[r] = dimAxes(axes);
  }
  return out;
};

/** The model's view of a placement: mesh axis names per dim and role. */
export function toLayout(name: string, p: Placement): ResolvedLayout {
  return {
    name,
    ...roleMap(p.weights),
    kvCache: dimAxes(p.kvCache),
    ...(p.use ? { use: roleMap(p.use) } : {}),
    activations: roleMap(p.activations),
    choices: p.choices,
  };
}

/** `Wq[D_X, N_Y, H]` for a note. */
export function noteSpec(name: string, dims: readonly string[], axes: Axes | undefined): string {
  return `${name}[${dims.map((d) => on(d, axes?.[d] ?? [])).join(", ")}]`;
}
