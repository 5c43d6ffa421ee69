import type { LlamaConfig, WeightRole } from "@shardcost/ops";
import { type Axis, axisText, fit, product, type StepShape, without } from "./axes.js";
import { type Axes, type Placement, roleDims, roleSizes, weightRoles } from "./placement.js";

/**
 * Fully sharded data parallelism (ZeRO-3; the book: "FSDP is impossible" for generation):
 * each weight stored on its first dim that every axis divides (else the axes that do), gathered
 * whole before its matmul in its stored dtype; tokens split over the axes that divide them (the
 * batch first, then prompt positions), the other axes computing redundantly.
 */
export function fsdp(
  c: LlamaConfig,
  axes: readonly Axis[],
  step: Required<Pick<StepShape, "phase" | "batch" | "seq">>,
): Placement {
  const sizes = roleSizes(c);
  const weights: Partial<Record<WeightRole, Axes>> = {};
  const use: Partial<Record<WeightRole, Axes>> = {};
  for (const role of weightRoles(c)) {
    const dims = roleDims(role);
    const whole = dims.find((d) => sizes[d]! % product(axes) === 0);
    const dim = whole ?? dims.find((d) => fit(sizes[d]!, axes).length > 0);
    weights[role] = dim === undefined ? {} : { [dim]: whole ? axes : fit(sizes[dim]!, axes) };
    // The lookup stays vocab-parallel; every other weight is gathered before use.
    if (role !== "embed") use[role] = {};
  }
  const gB = fit(step.batch, axes);
  const gT = step.phase === "prefill" ? fit(step.seq, without(axes, gB)) : [];
  const redundant = without(axes, [...gB, ...gT]);
  const tokens: Axes = { B: gB, T: gT };
  return {
    weights,
    use,
    kvCache: { B: gB },
    activations: {
      residual: tokens,
      attnNormIn: tokens,
      attnIn: tokens,
      q: tokens,
      kv: { B: gB },
      attnOut: tokens,
      mlpNormIn: tokens,
      mlpIn: tokens,
      mlpGateUp: tokens,
      mlpHidden: tokens,
      mlpOut: tokens,
    },
    choices: [
      "weights gathered whole before each matmul, in their stored dtype",
      `tokens over ${axisText([...gB, ...gT])}` +
        (redundant.length > 0 ? `; ${axisText(redundant)} compute redundantly` : ""),
      `KV cache batch over ${axisText(gB)}`,
    ],
  };
}
