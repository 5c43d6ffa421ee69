import type { LlamaConfig } from "@shardcost/ops";
import type { Axis, StepShape } from "./axes.js";
import type { Placement } from "./placement.js";
import { weightStationary } from "./weight-stationary.js";

/**
 * 1D weight-stationary (ESTI §3.2.1; the book's model parallelism for generation): every
 * weight's model-parallel dim over every axis that divides it, the residual replicated.
 */
export function oneDWs(
  c: LlamaConfig,
  axes: readonly Axis[],
  step: Required<Pick<StepShape, "phase" | "batch" | "seq">>,
): Placement {
  return weightStationary(c, { x: [], yz: axes }, step);
}
