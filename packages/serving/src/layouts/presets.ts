import { ShardcostError } from "@shardcost/core";
import type { LlamaConfig } from "@shardcost/ops";
import type { Mesh } from "@shardcost/sharding";
import { oneDWs } from "./1d-ws.js";
import { twoDWs } from "./2d-ws.js";
import {
  type Axis,
  axesOfMesh,
  names,
  noDimDivides,
  type ResolvedLayout,
  type StepShape,
} from "./axes.js";
import { fsdp } from "./fsdp.js";
import { type Placement, roleDims, roleSizes, toLayout, weightRoles } from "./placement.js";
import { weightGathered } from "./weight-gathered.js";

/** The named layouts: 1D and 2D weight-stationary, weight-gathered, FSDP. */
export type BaseLayoutName = "1d-ws" | "2d-ws" | "weight-gathered" | "fsdp";
/** A named layout; `weight-gathered:XY` gathers weights over the axes it names (ESTI's variants). */
export type LayoutName = BaseLayoutName | `weight-gathered:${string}`;

/** A named layout as data: its name, its source and what it does. */
export interface LayoutPreset {
  readonly name: BaseLayoutName;
  /** Where the layout comes from. */
  readonly source: string;
  readonly description: string;
}

/** The named layouts, each with its source (ESTI, the book). */
export const LAYOUTS: { readonly [N in BaseLayoutName]: LayoutPreset } = {
  "1d-ws": {
    name: "1d-ws",
    source:
      "Pope et al. 2022 (ESTI) §3.2.1, 1D weight-stationary; the book's 'model parallelism' " +
      "for generation",
    description:
      "every weight fully sharded: F, query heads and vocabulary over the axes that divide " +
      "them, KV heads over the leading ones of those that divide K, D where heads run out; the " +
      "KV cache by KV heads, then batch, the rest replicated; q moved onto the cache's batch " +
      "by an AllToAll; the residual replicated",
  },
  "2d-ws": {
    name: "2d-ws",
    source: "ESTI §3.2.2, 2D weight-stationary: Win[D_X, F_YZ], Wout[F_YZ, D_X]",
    description:
      "D over X in every weight (X chosen per mesh near √(chips·D/2F)), F, heads and vocabulary " +
      "over the other axes; the residual sharded on D over all axes, gathered over YZ before " +
      "each block and its norm statistics reduced over X; the MLP hidden reduce-scattered over " +
      "X; attention as in 1d-ws with D over X",
  },
  "weight-gathered": {
    name: "weight-gathered",
    source: "ESTI §3.2.3, weight-gathered layouts (X-, XY-, XYZ-weight-gathered) for large batches",
    description:
      "weights stored as in 2d-ws and gathered, in their stored dtype, over the axes the tokens " +
      "are split on (the leading axes they divide, or those of :X|XY|XYZ); weight-stationary " +
      "over the rest",
  },
  fsdp: {
    name: "fsdp",
    source: "fully sharded data parallelism (ZeRO-3); the book's 'FSDP' in the training chapter",
    description:
      "every weight split on its first dim over every axis and gathered whole before use; " +
      "tokens split over the axes that divide them, the rest computing redundantly",
  },
};

/** The preset a layout name stands for (`weight-gathered:XY` is weight-gathered's). */
export function layoutPreset(name: LayoutName): LayoutPreset {
  return LAYOUTS[
    name.startsWith("weight-gathered:") ? "weight-gathered" : (name as BaseLayoutName)
  ];
}

/** Whether `s` names a layout (`weight-gathered:XY` included). */
export function isLayoutName(s: string): s is LayoutName {
  if (Object.hasOwn(LAYOUTS, s)) return true;
  return /^weight-gathered:[XYZ]{1,3}$/.test(s);
}

/**
 * A named layout resolved for a model, mesh, phase and batch (shared reference `layouts.md`).
 * Every batch ≥ 1 on every mesh gets a layout: where the batch does not divide, the KV cache is
 * replicated over the axes it leaves. It throws only when a weight has no dim that any mesh axis
 * divides, and says which.
 */
export function resolveLayout(
  name: LayoutName,
  c: LlamaConfig,
  m: Mesh,
  shape: StepShape | number,
): ResolvedLayout {
  const s = typeof shape === "number" ? { batch: shape } : shape;
  const step = { phase: s.phase ?? "decode", batch: s.batch, seq: s.seq ?? 1 };
  const axes = axesOfMesh(m);
  const placement = place(name, c, axes, step);
  if (m.chips > 1) {
    const sizes = roleSizes(c);
    for (const role of weightRoles(c)) {
      if (role === "router" || role === "sharedRouter") continue; // tiny, replicated like norms
      const a = placement.weights[role];
      if (!a || Object.values(a).every((x) => x.length === 0)) {
        const dims = Object.fromEntries(
          Object.keys(sizes)
            .filter((d) => roleDims(role).includes(d))
            .map((d) => [d, sizes[d]!]),
        );
        noDimDivides(name, c, axes, role, dims);
      }
    }
  }
  return toLayout(name, placement);
}

function place(
  name: LayoutName,
  c: LlamaConfig,
  axes: readonly Axis[],
  step: Required<Pick<StepShape, "phase" | "batch" | "seq">>,
): Placement {
  if (name.startsWith("weight-gathered:")) {
    const wanted = name.slice("weight-gathered:".length).split("");
    const missing = wanted.filter((a) => !names(axes).includes(a));
    if (missing.length > 0 || new Set(wanted).size !== wanted.length) {
      throw new ShardcostError(
        "sharding",
        `layout ${name}: gather over distinct axes of the mesh (it has ${names(axes).join(", ")})`,
      );
    }
    return weightGathered(
      c,
      axes,
      step,
      axes.filter((a) => wanted.includes(a.name)),
    );
  }
  const base = name as BaseLayoutName;
  switch (base) {
    case "1d-ws":
      return oneDWs(c, axes, step);
    case "2d-ws":
      return twoDWs(c, axes, step);
    case "weight-gathered":
      return weightGathered(c, axes, step);
    case "fsdp":
      return fsdp(c, axes, step);
    default:
      return base satisfies never;
  }
}
