import type { ActivationRole, LlamaConfig } from "@shardcost/ops";
import {
  type Axis,
  axisText,
  fit,
  names,
  prefixDividing,
  product,
  type StepShape,
  without,
} from "./axes.js";
import { type Axes, mlpRoles, noteSpec, type Placement } from "./placement.js";

/**
 * The split of a weight-stationary layout: `x` are the axes that split the model dim D of
 * every weight (ESTI's X of `Win[D_X, F_YZ]`), `yz` the axes that split the model-parallel dims
 * (F, heads, vocab). 1d-ws is the case with no `x`.
 */
export interface WsSplit {
  readonly x: readonly Axis[];
  readonly yz: readonly Axis[];
}

/**
 * Per-role choices inside a weight-stationary split, each defaulting to what the named layouts
 * do (shared reference `layouts.md` §3): the layout search varies them one role group at a time.
 */
export interface WsChoices {
  /** Model-parallel axes the MLP weights put on D instead of F (default none). */
  readonly mlpD?: readonly Axis[];
  /** Model-parallel axes Wq and Wo put on D instead of the query heads (default none). */
  readonly attnD?: readonly Axis[];
  /** Axes the embedding tables put on D instead of the vocabulary (default none). */
  readonly vocabD?: readonly Axis[];
  /** On the query-group axes, Wk and Wv split H (default) or D. */
  readonly kvWeights?: "H" | "D";
  /**
   * What the KV cache splits after its heads: the batch, then positions (default); positions
   * first; or nothing (replicated over the axes the heads leave, which saves q's moves).
   */
  readonly cache?: "batch" | "sequence" | "replicate";
  /** The residual between blocks: sharded (D over every axis, default) or replicated. */
  readonly residual?: "sharded" | "replicated";
}

/**
 * Weight-stationary placement (ESTI §3.2.1–3.2.2; shared reference `layouts.md` §3.1–3.3), for
 * tokens already split `batch` × `seq` per device group:
 * - every weight fully sharded: its model-parallel dim over the `yz` axes that divide it, D over
 *   `x` and over whatever `yz` axes are left (A_R), H for Wk/Wv over the query-group axes;
 * - query heads N over A_N = fit(N, yz); KV heads K over the prefix A_K of A_N dividing K; the
 *   rest of A_N (A_Q) carries query groups, so q moves off it before the core (AllToAll);
 * - the KV cache: KV heads, then batch over C = x, A_R, A_Q (the order q reaches them), and
 *   what the batch leaves is replicated;
 * - activations: the residual sharded on D over every axis, each block's input gathered to its
 *   weights' D sharding before the norm, q and k/v at the cache's sharding, the attention output back on
 *   the heads, the MLP hidden reduce-scattered over x (2D).
 */
export function weightStationary(
  c: LlamaConfig,
  split: WsSplit,
  step: Required<Pick<StepShape, "phase" | "batch" | "seq">>,
  choose: WsChoices = {},
): Placement {
  const { x, yz } = split;
  const all = [...x, ...yz];
  const prefill = step.phase === "prefill";
  const choices: string[] = [];

  const aF = fit(c.F, without(yz, choose.mlpD ?? []));
  const dMlp = fit(c.D, [...x, ...without(yz, aF)]);
  // Experts over the model-parallel axes that divide them, then each expert's F over the rest.
  const aE = c.moe ? fit(c.moe.experts, yz) : [];
  const fE = fit(c.F, without(yz, aE));
  const dE = fit(c.D, [...x, ...without(yz, [...aE, ...fE])]);
  // A shared expert (Qwen2-MoE) is a dense MLP over its own hidden dim.
  const aFs = c.moe?.shared ? fit(c.moe.shared.F, yz) : [];
  const dFs = fit(c.D, [...x, ...without(yz, aFs)]);

  const aN = fit(c.N, without(yz, choose.attnD ?? []));
  const aK = prefixDividing(c.K, aN);
  const aQ = without(aN, aK);
  const aR = without(yz, aN);
  const dAttn = fit(c.D, [...x, ...aR]);
  const hKv = choose.kvWeights === "D" ? [] : fit(c.H, aQ);
  const dKv = fit(c.D, [...x, ...aR, ...without(aQ, hKv)]);
  const aV = fit(c.V, without(all, choose.vocabD ?? []));
  const dV = fit(c.D, without(all, aV));

  // The KV cache: heads, then batch over the axes q reaches them in; the rest replicated.
  const cAxes = [...x, ...aR, ...aQ];
  const cache = choose.cache ?? "batch";
  // Decode: the cache's positions over what the batch leaves (flash-decoding: each device
  // attends to its positions, the results are combined). Prefill: the queries' positions.
  const seqFirst = cache === "sequence" ? fit(step.seq, cAxes) : [];
  const aB = cache === "replicate" ? [] : fit(step.batch, without(cAxes, seqFirst));
  const rest = cache === "replicate" ? [] : without(cAxes, aB);
  const aT = prefill ? fit(step.seq, rest) : [];
  const aS = prefill ? [] : fit(step.seq, rest);
  const rep = without(cAxes, [...aB, ...aT, ...aS]);

  const weights = {
    embed: { V: aV, D: dV },
    wq: { D: dAttn, N: aN },
    wk: { D: dKv, K: aK, H: hKv },
    wv: { D: dKv, K: aK, H: hKv },
    wo: { N: aN, D: dAttn },
    ...mlpRoles(
      c,
      { gateUp: { D: dMlp, F: aF }, down: { F: aF, D: dMlp } },
      {
        E: aE,
        F: fE,
        D: dE,
      },
      { gateUp: { D: dFs, Fs: aFs }, down: { Fs: aFs, D: dFs } },
    ),
    unembed: { D: dV, V: aV },
  };
  const kvCache = { B: aB, S: aS, K: aK };

  // The residual between blocks: D over every axis (a block's partial sums are
  // reduce-scattered onto it and gathered before the next norm: the bytes of one AllReduce, and
  // the residual adds touch 1/n of it); prefill in 1D splits it by position instead.
  const residualD = fit(c.D, [...x, ...aR, ...aN, ...without(yz, [...aR, ...aN])]);
  const residual: Axes =
    choose.residual === "replicated"
      ? {}
      : prefill && x.length === 0
        ? { T: fit(step.seq, all) }
        : { D: residualD };
  // Each block's input is gathered to the D sharding of its weights (norm statistics reduced
  // over what stays split): attention over x and A_R, the MLP over x and the axes F leaves.
  const attnIn: Axes = { D: dAttn };
  const mlpIn: Axes = { D: dMlp };
  const activations: Partial<Record<ActivationRole, Axes>> = {
    residual,
    ...(prefill ? {} : { attnNormIn: attnIn, mlpNormIn: mlpIn }),
    attnIn,
    q: { B: aB, T: aT, N: aK },
    kv: { B: aB, K: aK },
    attnOut: { B: without(aB, aN), T: without(aT, aN), N: aN },
    mlpIn,
    ...(x.length > 0 && !c.moe
      ? { mlpGateUp: { F: fit(c.F, [...aF, ...x]) }, mlpHidden: { F: aF } }
      : {}),
    // Logits stay split by vocabulary; an unembedding split on D is reduced here.
    logits: { V: aV },
  };

  const say = (what: string) => choices.push(what);
  if (x.length > 0) say(`D over ${axisText(x)} and F over ${axisText(aF)} (2D weight-stationary)`);
  else say(`F over ${axisText(aF)}`);
  say(
    `query heads over ${axisText(aN)}, KV heads over ${axisText(aK)}` +
      (aQ.length > 0
        ? `; ${axisText(aQ)} carry query groups, which q leaves for the attention core`
        : ""),
  );
  if (aR.length > 0) say(`heads leave ${axisText(aR)}: attention weights split D there`);
  say(
    `${noteSpec("Wq", ["D", "N", "H"], weights.wq)}, ${noteSpec("Wk", ["D", "K", "H"], weights.wk)}`,
  );
  say(
    `KV cache ${noteSpec("", ["B", "S", "K", "H"], kvCache)}: batch over ${axisText(aB)}` +
      (aT.length > 0 ? `, queries split by position over ${axisText(aT)}` : "") +
      (aS.length > 0 ? `, positions over ${axisText(aS)} (partial attention combined)` : "") +
      (rep.length > 0
        ? cache === "replicate"
          ? `; replicated over ${axisText(rep)} (chosen: q stays where the heads put it)`
          : `; replicated over ${axisText(rep)} (neither batch ${step.batch} nor the positions ` +
            `divide by ${product(rep)})`
        : ""),
  );
  for (const [axes, what, chosen] of [
    [without(yz, aF), "F", choose.mlpD ?? []],
    [without(all, aV), "V", choose.vocabD ?? []],
  ] as const) {
    const left = without(axes, chosen);
    const picked = without(axes, left);
    if (left.length > 0) say(`${what} does not divide over ${names(left).join("")}: D takes them`);
    if (picked.length > 0) say(`${what} leaves ${names(picked).join("")} by choice: D takes them`);
  }
  if (choose.attnD && choose.attnD.length > 0) {
    say(`query heads leave ${axisText(choose.attnD)} by choice`);
  }
  if (choose.kvWeights === "D" && aQ.length > 0)
    say(`Wk and Wv split D, not H, over ${axisText(aQ)}`);
  if (choose.residual === "replicated") say("the residual between blocks replicated (chosen)");
  return { weights, kvCache, activations, choices };
}
