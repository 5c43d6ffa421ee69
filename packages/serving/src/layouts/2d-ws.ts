import type { LlamaConfig } from "@shardcost/ops";
import { type Axis, product, type StepShape } from "./axes.js";
import type { Placement } from "./placement.js";
import { type WsSplit, weightStationary } from "./weight-stationary.js";

/**
 * The 2D layout's X: the leading axes whose product is nearest √(chips·D / 2F), the split that
 * minimises 2BD/X + 4BF·X/chips (the book's per-layer comms for 2D weight-stationary). One axis
 * cannot be split in two: then X is empty and the layout is 1D.
 */
export function splitForTwoD(c: LlamaConfig, axes: readonly Axis[]): WsSplit {
  if (axes.length < 2) return { x: [], yz: axes };
  const ideal = Math.sqrt((product(axes) * c.D) / (2 * c.F));
  let best = 1;
  const err = (k: number) => Math.abs(Math.log(product(axes.slice(0, k)) / ideal));
  for (let k = 2; k < axes.length; k++) if (err(k) < err(best)) best = k;
  return { x: axes.slice(0, best), yz: axes.slice(best) };
}

/**
 * 2D weight-stationary (ESTI §3.2.2, `Win[D_X, F_YZ]`): D over X in every weight, the
 * model-parallel dims over the rest; the residual sharded on D over every axis, gathered over
 * YZ before each block and reduce-scattered after it; the MLP hidden reduce-scattered over X.
 */
export function twoDWs(
  c: LlamaConfig,
  axes: readonly Axis[],
  step: Required<Pick<StepShape, "phase" | "batch" | "seq">>,
): Placement {
  const split = splitForTwoD(c, axes);
  const p = weightStationary(c, split, step);
  if (split.x.length > 0) return p;
  return { ...p, choices: ["one mesh axis: 2D is 1D here", ...p.choices] };
}
