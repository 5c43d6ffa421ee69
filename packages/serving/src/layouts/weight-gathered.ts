import type { ActivationRole, LlamaConfig, WeightRole } from "@shardcost/ops";
import { splitForTwoD } from "./2d-ws.js";
import { type Axis, axisText, fit, product, type StepShape, without } from "./axes.js";
import type { Axes, Placement } from "./placement.js";
import { type WsChoices, type WsSplit, weightStationary } from "./weight-stationary.js";

/**
 * Weight-gathered (ESTI §3.2.3, X-, XY- and XYZ-weight-gathered): weights stored as in 2d-ws
 * over every axis; over the gathered axes G the tokens are split (batch first, then prompt
 * positions) and each weight is gathered, in its stored dtype, right before its matmul; over
 * the rest the layout is weight-stationary. G is the leading axes the tokens divide, or the
 * `:X|XY|XYZ` variant's axes. With no tokens to split (batch 1 decode) it is 2d-ws.
 */
export function weightGathered(
  c: LlamaConfig,
  axes: readonly Axis[],
  step: Required<Pick<StepShape, "phase" | "batch" | "seq">>,
  gathered?: readonly Axis[],
  /** The stored split (default 2d-ws's) and per-role choices, as the layout search varies them. */
  within: { readonly split?: WsSplit; readonly choose?: WsChoices } = {},
): Placement {
  const prefill = step.phase === "prefill";
  const candidates = gathered ?? axes;
  const gB = fit(step.batch, candidates);
  const gT = prefill ? fit(step.seq, without(candidates, gB)) : [];
  const g = [...gB, ...gT];
  const split = within.split ?? splitForTwoD(c, axes);
  const stored = weightStationary(c, split, step, within.choose);
  const s = { x: without(split.x, g), yz: without(split.yz, g) };
  const local = weightStationary(
    c,
    s,
    {
      phase: step.phase,
      batch: step.batch / product(gB),
      seq: step.seq / product(gT),
    },
    within.choose,
  );
  const withTokens = (a: Axes, dims: readonly ("B" | "T")[]): Axes => ({
    ...a,
    ...(dims.includes("B") ? { B: [...gB, ...(a.B ?? [])] } : {}),
    ...(dims.includes("T") ? { T: [...gT, ...(a.T ?? [])] } : {}),
  });
  const activations: Partial<Record<ActivationRole, Axes>> = {};
  for (const [role, a] of Object.entries(local.activations) as [ActivationRole, Axes][]) {
    activations[role] = withTokens(a, role === "kv" ? ["B"] : ["B", "T"]);
  }
  // Stored with the gathered axes last in every dim, so use (storage without them) is one
  // AllGather of trailing axes, in the stored dtype.
  const inG = (a: Axis) => g.some((x) => x.name === a.name);
  const mapWeights = (f: (axes: readonly Axis[]) => Axis[], skip: readonly string[] = []) => {
    const out: Partial<Record<WeightRole, Axes>> = {};
    for (const [role, dims] of Object.entries(stored.weights) as [WeightRole, Axes][]) {
      if (skip.includes(role)) continue;
      out[role] = Object.fromEntries(Object.entries(dims).map(([d, axes]) => [d, f(axes)]));
    }
    return out;
  };
  const weights = mapWeights((axes) => [...axes.filter((a) => !inG(a)), ...axes.filter(inG)]);
  // The lookup and the logits stay vocab-parallel: never gather a V×D table a step.
  const use = mapWeights((axes) => axes.filter((a) => !inG(a)), ["embed", "unembed"]);
  const unused = gathered ? without(gathered, g) : [];
  return {
    weights,
    use,
    kvCache: withTokens(local.kvCache, ["B"]),
    activations,
    choices: [
      `weights stored as 2d-ws; gathered over ${axisText(g)} before use, in their stored dtype`,
      `tokens over ${axisText(g)}` +
        (unused.length > 0
          ? `; ${axisText(unused)} cannot split the tokens and stay stationary`
          : ""),
      ...local.choices.map((t) => `over the stationary axes: ${t}`),
    ],
  };
}
