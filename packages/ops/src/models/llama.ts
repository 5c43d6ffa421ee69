import { cache, type DType, param, type TensorSpec, type Tracer, tensor } from "@shardcost/core";
import { contractTo } from "../einsum.js";
import { add, astype } from "../elementwise.js";
import { attention, flashAttention, gatedMlp, rmsnorm, rope } from "../nn.js";
import { dynamicUpdateSlice, gather, merge, split } from "../structural.js";

/** A LLaMA-3-shaped decoder: grouped-query attention, RoPE, RMSNorm, SwiGLU, untied embeddings. */
export interface LlamaConfig {
  readonly name: string;
  /** L layers, model dim D, MLP dim F, N query heads, K KV heads, head dim H, vocab V. */
  readonly layers: number;
  readonly D: number;
  readonly F: number;
  readonly N: number;
  readonly K: number;
  readonly H: number;
  readonly V: number;
}

/** Meta's published LLaMA 3 shapes (config.json of each release). */
export const LLAMA3_8B: LlamaConfig = {
  name: "llama3-8b",
  layers: 32,
  D: 4096,
  F: 14336,
  N: 32,
  K: 8,
  H: 128,
  V: 128256,
};
export const LLAMA3_70B: LlamaConfig = {
  name: "llama3-70b",
  layers: 80,
  D: 8192,
  F: 28672,
  N: 64,
  K: 8,
  H: 128,
  V: 128256,
};
export const LLAMA3_405B: LlamaConfig = {
  name: "llama3-405b",
  layers: 126,
  D: 16384,
  F: 53248,
  N: 128,
  K: 8,
  H: 128,
  V: 128256,
};

export interface DecodeOptions {
  /** Sequences decoded together (B) and KV-cache length (S). */
  readonly batch: number;
  readonly seq: number;
  readonly weights?: DType;
  readonly kv?: DType;
  /** Activation and compute dtype. */
  readonly compute?: DType;
  readonly flash?: boolean;
}

/** A traceable model: the forward function, its declared inputs and the dims dictionary. */
export interface ModelSpec<I> {
  readonly fn: (inputs: Traced<I>) => TraceResultOf;
  readonly inputs: I;
  readonly dims: Readonly<Record<string, number>>;
}

type TraceResultOf = Record<string, Tracer | readonly Record<string, Tracer>[]>;
type Traced<T> = T extends TensorSpec ? Tracer : { [K in keyof T]: Traced<T[K]> };

function layerInputs(w: DType, compute: DType) {
  return {
    attnNorm: param("attnNorm[D]", compute),
    wq: param("Wq[D, N, H]", w),
    wk: param("Wk[D, K, H]", w),
    wv: param("Wv[D, K, H]", w),
    wo: param("Wo[N, H, D]", w),
    mlpNorm: param("mlpNorm[D]", compute),
    gate: param("Wgate[D, F]", w),
    up: param("Wup[D, F]", w),
    down: param("Wdown[F, D]", w),
  };
}

/**
 * One decode step: B new tokens at position `pos` attend to a KV cache of S positions, which
 * each layer updates in place with its new keys and values (dynamic_update_slice).
 */
export function llamaDecode(config: LlamaConfig, options: DecodeOptions) {
  const w = options.weights ?? "bf16";
  const kvType = options.kv ?? "bf16";
  const act = options.compute ?? "bf16";
  const { D, F, N, K, H, V } = config;
  const inputs = {
    tokens: tensor("tokens[B]", "int32"),
    pos: tensor("pos[]", "int32"),
    ropeSin: tensor("ropeSin[B, Hh]", act),
    ropeCos: tensor("ropeCos[B, Hh]", act),
    embed: param("embed[V, D]", w),
    layers: Array.from({ length: config.layers }, () => layerInputs(w, act)),
    kv: Array.from({ length: config.layers }, () => ({
      k: cache("Kcache[B, S, K, H]", kvType),
      v: cache("Vcache[B, S, K, H]", kvType),
    })),
    finalNorm: param("finalNorm[D]", act),
    unembed: param("unembed[D, V]", w),
  };
  type In = typeof inputs;
  const fn = (x: Traced<In>) => {
    const tables = { sin: x.ropeSin, cos: x.ropeCos };
    let h = astype(gather(x.embed, x.tokens, "V"), act);
    const caches: { k: Tracer; v: Tracer }[] = [];
    x.layers.forEach((layer, l) => {
      const kv = x.kv[l]!;
      const a = rmsnorm(h, layer.attnNorm, "D");
      const q = rope(contractTo(["B", "N", "H"], a, layer.wq), tables);
      const k = rope(contractTo(["B", "K", "H"], a, layer.wk), tables);
      const v = contractTo(["B", "K", "H"], a, layer.wv);
      const kc = dynamicUpdateSlice(kv.k, astype(k, kvType), "S", x.pos);
      const vc = dynamicUpdateSlice(kv.v, astype(v, kvType), "S", x.pos);
      caches.push({ k: kc, v: vc });
      const qg = split(q, "N", { K, G: N / K });
      const dims = { key: "S", head: "H" };
      const o = options.flash
        ? flashAttention(qg, astype(kc, act), astype(vc, act), dims)
        : attention(qg, astype(kc, act), astype(vc, act), dims);
      h = add(h, contractTo(["B", "D"], merge(o, ["K", "G"], "N"), layer.wo));
      const m = rmsnorm(h, layer.mlpNorm, "D");
      h = add(h, gatedMlp(m, layer));
    });
    const logits = contractTo(["B", "V"], rmsnorm(h, x.finalNorm, "D"), x.unembed);
    return { logits, caches };
  };
  const dims = { B: options.batch, S: options.seq, D, F, N, K, H, V, Hh: H / 2 };
  return { fn, inputs, dims } satisfies ModelSpec<In>;
}
