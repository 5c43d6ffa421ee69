import { ShardcostError } from "@shardcost/core";
import type { LlamaConfig, LlamaLayout } from "@shardcost/ops";
import type { Mesh } from "@shardcost/sharding";

export type LayoutName = "1d-ws" | "2d-ws" | "weight-gathered" | "fsdp";

export interface LayoutPreset {
  readonly name: LayoutName;
  /** Where the layout comes from. */
  readonly source: string;
  readonly description: string;
}

export const LAYOUTS: { readonly [N in LayoutName]: LayoutPreset } = {
  "1d-ws": {
    name: "1d-ws",
    source:
      "Pope et al. 2022 (ESTI) §3.2.1, 1D weight-stationary; the book's 'model parallelism' " +
      "for generation",
    description:
      "MLP hidden dim and vocabulary over every mesh axis; attention heads over the leading " +
      "axes that divide the KV heads, the batch over the rest; activations replicated",
  },
  "2d-ws": {
    name: "2d-ws",
    source: "ESTI §3.2.2, 2D weight-stationary: Win[D_X, F_YZ], Wout[F_YZ, D_X]",
    description:
      "MLP weights split on D over X and on F over the other axes (X chosen per mesh near " +
      "√(chips·D/2F)); attention weights on D over X and on heads over the other axes that " +
      "divide the KV heads, the KV cache's batch over the rest (when the batch divides, else " +
      "attention as in 1d-ws); the residual stream sharded on D over all axes",
  },
  "weight-gathered": {
    name: "weight-gathered",
    source: "ESTI §3.2.3, weight-gathered layouts for large batches",
    description:
      "weights stored as in 1d-ws and gathered before use; activations and KV caches sharded " +
      "by batch over every axis",
  },
  fsdp: {
    name: "fsdp",
    source: "fully sharded data parallelism (ZeRO-3); the book's 'FSDP' in the training chapter",
    description:
      "every weight split on its first dim over every axis and gathered before use; " +
      "activations and KV caches sharded by batch",
  },
};

export function isLayoutName(s: string): s is LayoutName {
  return Object.hasOwn(LAYOUTS, s);
}

const product = (m: Mesh, axes: readonly string[]) =>
  axes.reduce((n, a) => n * m.axes.find((x) => x.name === a)!.size, 1);

/** Leading axes whose product divides the KV heads; the batch takes the rest. */
function attentionAxes(c: LlamaConfig, m: Mesh): { heads: string[]; batch: string[] } {
  const names = m.axes.map((a) => a.name);
  let k = 0;
  while (k < names.length && c.K % product(m, names.slice(0, k + 1)) === 0) k++;
  return { heads: names.slice(0, k), batch: names.slice(k) };
}

/**
 * The 2D layout's X: the leading axes whose product is nearest √(chips·D / 2F), the split
 * that minimises 2BD/X + 4BF·X/chips (the book's per-layer comms for 2D weight-stationary).
 */
function splitForTwoD(c: LlamaConfig, m: Mesh): { x: string[]; yz: string[] } {
  const names = m.axes.map((a) => a.name);
  const ideal = Math.sqrt((m.chips * c.D) / (2 * c.F));
  let best = 1;
  for (let k = 1; k < names.length; k++) {
    const err = (n: number) => Math.abs(Math.log(product(m, names.slice(0, n)) / ideal));
    if (err(k) < err(best)) best = k;
  }
  return { x: names.slice(0, best), yz: names.slice(best) };
}

const join = (axes: readonly string[]) => axes.join("");
const on = (dim: string, axes: readonly string[]) =>
  axes.length > 0 ? `${dim}_${join(axes)}` : dim;

/**
 * A named layout resolved for a model, mesh and batch, or a ShardcostError saying why it
 * cannot apply (a dim its axes do not divide, too few axes).
 */
export function resolveLayout(
  name: LayoutName,
  c: LlamaConfig,
  m: Mesh,
  batch: number,
): LlamaLayout {
  const all = m.axes.map((a) => a.name);
  const fail = (why: string): never => {
    throw new ShardcostError(
      "sharding",
      `layout ${name} cannot apply to ${c.name} on ${m.axes.map((a) => `${a.name}=${a.size}`).join(" ")}: ${why}`,
    );
  };
  const divides = (dim: string, size: number, axes: readonly string[]) => {
    const k = product(m, axes);
    if (size % k !== 0)
      fail(`${dim}=${size} is not divisible by the ${k} devices of axes ${join(axes)}`);
  };
  const { heads, batch: kvBatch } = attentionAxes(c, m);
  const attention = {
    wq: `[D, ${on("N", heads)}, H]`,
    wk: `[D, ${on("K", heads)}, H]`,
    wv: `[D, ${on("K", heads)}, H]`,
    wo: `[${on("N", heads)}, H, D]`,
  };
  switch (name) {
    case "1d-ws": {
      divides("F", c.F, all);
      divides("V", c.V, all);
      divides("B", batch, kvBatch);
      return {
        ...attention,
        ...mlpWeights(c, `[D, ${on("F", all)}]`, `[${on("F", all)}, D]`, all, divides),
        kvCache: `[${on("B", kvBatch)}, S, ${on("K", heads)}, H]`,
        embed: `[${on("V", all)}, D]`,
        unembed: `[D, ${on("V", all)}]`,
      };
    }
    case "2d-ws": {
      if (all.length < 2) fail("it needs at least two mesh axes (X for D, the rest for F)");
      const { x, yz } = splitForTwoD(c, m);
      divides("D", c.D, all);
      divides("F", c.F, yz);
      divides("V", c.V, all);
      divides("B", batch, kvBatch);
      const xs = join(x);
      // Attention in 2D too: D over X, heads over the leading other axes that divide the KV
      // heads, the KV cache's batch over the rest (X included).
      const hq: string[] = [];
      for (const a of yz) {
        if (c.K % product(m, [...hq, a]) !== 0) break;
        hq.push(a);
      }
      const cacheBatch = all.filter((a) => !hq.includes(a));
      // A batch those axes do not divide keeps 1d-ws attention (heads, then batch).
      const twoD = batch % product(m, cacheBatch) === 0 && c.N % product(m, hq) === 0;
      const attention2d = twoD
        ? {
            wq: `[${on("D", x)}, ${on("N", hq)}, H]`,
            wk: `[${on("D", x)}, ${on("K", hq)}, H]`,
            wv: `[${on("D", x)}, ${on("K", hq)}, H]`,
            wo: `[${on("N", hq)}, H, ${on("D", x)}]`,
            kvCache: `[${on("B", cacheBatch)}, S, ${on("K", hq)}, H]`,
          }
        : { ...attention, kvCache: `[${on("B", kvBatch)}, S, ${on("K", heads)}, H]` };
      return {
        ...attention2d,
        ...mlpWeights(
          c,
          `[${on("D", x)}, ${on("F", yz)}]`,
          `[${on("F", yz)}, ${on("D", x)}]`,
          yz,
          divides,
        ),
        embed: `[${on("V", all)}, D]`,
        unembed: `[D, ${on("V", all)}]`,
        activations: {
          residual: { D: join(all) },
          ...(twoD
            ? {
                attnIn: { D: xs },
                // The projections' partial sums over X, reduce-scattered onto the cache's batch.
                qkv: { B: join(cacheBatch), N: join(hq), K: join(hq) },
              }
            : { attnIn: {} }),
          mlpIn: { D: xs },
          mlpHidden: { F: join(yz) },
          mlpOut: { D: join(all) },
        },
      };
    }
    case "weight-gathered": {
      divides("F", c.F, all);
      divides("V", c.V, all);
      divides("B", batch, all);
      return {
        ...attention,
        ...mlpWeights(c, `[D, ${on("F", all)}]`, `[${on("F", all)}, D]`, all, divides),
        kvCache: `[${on("B", all)}, S, K, H]`,
        embed: `[${on("V", all)}, D]`,
        unembed: `[D, ${on("V", all)}]`,
        activations: { residual: { B: join(all) }, mlpIn: { B: join(all) } },
      };
    }
    case "fsdp": {
      divides("D", c.D, all);
      divides("F", c.F, all);
      divides("V", c.V, all);
      divides("B", batch, all);
      return {
        wq: `[${on("D", all)}, N, H]`,
        wk: `[${on("D", all)}, K, H]`,
        wv: `[${on("D", all)}, K, H]`,
        wo: `[N, H, ${on("D", all)}]`,
        ...mlpWeights(c, `[${on("D", all)}, F]`, `[${on("F", all)}, D]`, all, divides),
        kvCache: `[${on("B", all)}, S, K, H]`,
        embed: `[${on("V", all)}, D]`,
        unembed: `[${on("D", all)}, V]`,
        activations: { residual: { B: join(all) }, mlpIn: { B: join(all) } },
      };
    }
    default:
      return name satisfies never;
  }
}

/** MLP weights: dense gate/up/down, or experts split over the same axes by expert. */
function mlpWeights(
  c: LlamaConfig,
  inSpec: string,
  outSpec: string,
  axes: readonly string[],
  divides: (dim: string, size: number, axes: readonly string[]) => void,
): LlamaLayout {
  if (!c.moe) return { gate: inSpec, up: inSpec, down: outSpec };
  divides("E", c.moe.experts, axes);
  const e = on("E", axes);
  return { expertGate: `[${e}, D, F]`, expertUp: `[${e}, D, F]`, expertDown: `[${e}, F, D]` };
}
