import { bind1, composite, Primitive, type Tracer } from "@shardcost/core";
import { contractTo } from "./einsum.js";
import {
  add,
  astype,
  div,
  exp,
  max,
  mean,
  mul,
  neg,
  rsqrt,
  silu,
  sub,
  sum,
} from "./elementwise.js";
import { concatenate, dynamicSlice, merge, split } from "./structural.js";

/** How `softmax` computes: max-subtracted (stable, the default) or the textbook exp/sum/divide. */
export interface SoftmaxOptions {
  /**
   * Subtract the row max first (default true), as every real kernel does. Without it the cost is
   * exp, sum and divide: 3 ops per element, the textbook count.
   */
  readonly stable?: boolean;
}

/** Softmax over `dim`; traced as max, subtract, exp, sum and divide, which fuse into one loop. */
export const softmax = composite(function softmax(
  x: Tracer,
  dim: string,
  options: SoftmaxOptions = {},
): Tracer {
  const shifted = options.stable === false ? x : sub(x, max(x, dim));
  const e = exp(shifted);
  return div(e, sum(e, dim));
});

/** RMSNorm over `dim` in f32 (casts fuse away): x / √(mean(x²) + eps) · w. */
export const rmsnorm = composite(function rmsnorm(
  x: Tracer,
  w: Tracer,
  dim: string,
  eps: number = 1e-5,
): Tracer {
  const xf = astype(x, "f32");
  const r = rsqrt(add(mean(mul(xf, xf), dim), eps));
  return mul(astype(mul(xf, r), x.dtype), w);
});

/** LayerNorm over `dim` in f32: (x − μ) / √(σ² + eps) · w + b. */
export const layernorm = composite(function layernorm(
  x: Tracer,
  w: Tracer,
  b: Tracer,
  dim: string,
  eps: number = 1e-5,
): Tracer {
  const xf = astype(x, "f32");
  const centered = sub(xf, mean(xf, dim));
  const r = rsqrt(add(mean(mul(centered, centered), dim), eps));
  return add(mul(astype(mul(centered, r), x.dtype), w), b);
});

/** The sine and cosine tables rotary embeddings read. */
export interface RopeTables {
  /** sin and cos of position × frequency, over the position dims and `${head}h` (H/2). */
  readonly sin: Tracer;
  readonly cos: Tracer;
}

/**
 * Rotary position embedding (rotate-half form) along head dim `head`: the head splits into two
 * halves `${head}r` × `${head}h`; out = x·cos + rotate(x)·sin with rotate(x) = [−x₂, x₁].
 * The tables carry dim `${head}h` and broadcast over the rest.
 */
export const rope = composite(function rope(
  x: Tracer,
  tables: RopeTables,
  head: string = "H",
): Tracer {
  const half = x.size(head) / 2;
  const r = `${head}r`;
  const h = `${head}h`;
  const one = `${head}r1`;
  const xs = split(x, head, { [r]: 2, [h]: half });
  const first = dynamicSlice(xs, r, 0, { as: { dim: one, size: 1 } });
  const second = dynamicSlice(xs, r, 1, { as: { dim: one, size: 1 } });
  const rotated = concatenate([neg(second), first], r, [one, one]);
  const out = add(mul(xs, tables.cos), mul(rotated, tables.sin));
  return merge(out, [r, h], head);
});

/** The dims attention works over: query length (absent in decode), key length and head dim. */
export interface AttentionDims {
  /** Query-length dim (T; absent in single-token decode), key-length dim (S), head dim (H). */
  readonly query?: string;
  readonly key: string;
  readonly head: string;
}

/** How attention runs: its dims, the score scale, an additive mask and the softmax. */
export interface AttentionOptions extends AttentionDims {
  /** Score scale, default 1/√H; null for none. */
  readonly scale?: number | null;
  /** Additive mask broadcast onto the scores (e.g. −∞ above the diagonal). */
  readonly mask?: Tracer;
  readonly softmax?: SoftmaxOptions;
}

/**
 * Attention written out: scores q·k over the head dim, softmax over keys, then p·v. The score
 * matrix goes through HBM. Dims shared by q and k (batch, KV heads) are batch dims; dims only
 * in q (query length, the G of grouped-query attention) are free.
 */
export const attention = composite(function attention(
  q: Tracer,
  k: Tracer,
  v: Tracer,
  options: AttentionOptions,
): Tracer {
  const { key, head } = options;
  const scoreDims = [...q.dims.filter((d) => d !== head), key];
  let s = contractTo(scoreDims, q, k);
  const scale = options.scale === undefined ? 1 / Math.sqrt(q.size(head)) : options.scale;
  if (scale !== null) s = mul(s, scale);
  if (options.mask) s = add(s, options.mask);
  const p = softmax(s, key, options.softmax);
  return contractTo(q.dims, p, v);
});

/** The same attention as one fused kernel: no score matrix in HBM (FlashAttention). */
export const flashAttention = composite(function flashAttention(
  q: Tracer,
  k: Tracer,
  v: Tracer,
  options: AttentionDims & { readonly scale?: number },
): Tracer {
  const scale = options.scale ?? 1 / Math.sqrt(q.size(options.head));
  return bind1(Primitive.FlashAttention, [q, k, v], {
    query: options.query ?? null,
    key: options.key,
    head: options.head,
    scale,
  });
});

/** A gated MLP's weights: gate, up and down projections. */
export interface GatedMlpWeights {
  /** Gate and up projections [D, F], down projection [F, D]. */
  readonly gate: Tracer;
  readonly up: Tracer;
  readonly down: Tracer;
}

/** A gated MLP's dims, its matmul, and hooks that constrain its intermediates (e.g. `shard()`). */
export interface GatedMlpOptions {
  /** Model dim (default D) and hidden dim (default F). */
  readonly model?: string;
  readonly hidden?: string;
  /** The weight matmuls (default `contractTo`; a model may run them in another dtype). */
  readonly matmul?: (out: readonly string[], a: Tracer, b: Tracer) => Tracer;
  /** Applied to each of the gate and up projections (e.g. a `shard()`). */
  readonly onProjected?: (h: Tracer) => Tracer;
  /** Applied to the hidden activations before the down projection (e.g. a `shard()`). */
  readonly onHidden?: (h: Tracer) => Tracer;
}

/** SwiGLU MLP: (silu(x·W_gate) ⊙ x·W_up)·W_down over the model and hidden dims. */
export const gatedMlp = composite(function gatedMlp(
  x: Tracer,
  w: GatedMlpWeights,
  options: GatedMlpOptions = {},
): Tracer {
  const same = (h: Tracer) => h;
  const { model = "D", hidden = "F", matmul = contractTo } = options;
  const { onProjected = same, onHidden = same } = options;
  const outDims = x.dims.map((d) => (d === model ? hidden : d));
  const h = mul(
    silu(onProjected(matmul(outDims, x, w.gate))),
    onProjected(matmul(outDims, x, w.up)),
  );
  return matmul(x.dims, onHidden(h), w.down);
});
