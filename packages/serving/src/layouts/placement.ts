import { printSharding } from "@shardcost/core";
import {
  type ActivationRole,
  configDims,
  type DimAxes,
  dimNames,
  type LlamaConfig,
  ROLE_DIMS,
  type WeightRole,
} from "@shardcost/ops";
import { type Axis, dimAxes, names, type ResolvedLayout } from "./axes.js";

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
  /** A shared expert's weights (Qwen2-MoE), laid out as a dense MLP over its dim Fs. */
  shared?: { readonly gateUp: Axes; readonly down: Axes },
): Partial<Record<WeightRole, Axes>> {
  if (!c.moe) return { gate: dense.gateUp, up: dense.gateUp, down: dense.down };
  const routed = { router: {}, expertGate: experts, expertUp: experts, expertDown: experts };
  if (!c.moe.shared || !shared) return routed;
  return {
    ...routed,
    sharedGate: shared.gateUp,
    sharedUp: shared.gateUp,
    sharedDown: shared.down,
    sharedRouter: {},
  };
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
  const dim = (d: string) => ({ dim: d, axes: names(axes?.[d] ?? []) });
  return printSharding({ name, dims: dims.map(dim), partial: [] });
}

/** The weight roles a model has (norms are replicated by design and not listed). */
export function weightRoles(c: LlamaConfig): WeightRole[] {
  const shared: WeightRole[] = c.moe?.shared
    ? ["sharedGate", "sharedUp", "sharedDown", "sharedRouter"]
    : [];
  const mlp: WeightRole[] = c.moe
    ? ["router", "expertGate", "expertUp", "expertDown", ...shared]
    : ["gate", "up", "down"];
  return ["embed", "wq", "wk", "wv", "wo", ...mlp, ...(c.tied ? [] : ["unembed" as const])];
}

export function roleSizes(c: LlamaConfig): Record<string, number> {
  return configDims(c);
}

/** A role's dims in order: `wq` → D, N, H. */
export const roleDims = (role: WeightRole): string[] => dimNames(ROLE_DIMS[role]);
