import {
  cache,
  type DType,
  param,
  ShardcostError,
  type TensorSpec,
  type Tracer,
  tensor,
} from "@shardcost/core";
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

/** The model's tensors, by role, for layouts: each maps to the dims of its notation. */
export type LlamaRole =
  | "embed"
  | "attnNorm"
  | "wq"
  | "wk"
  | "wv"
  | "wo"
  | "mlpNorm"
  | "gate"
  | "up"
  | "down"
  | "kvCache"
  | "finalNorm"
  | "unembed";

/**
 * Sharding of each role in notation without the name, e.g. `{ wq: "[D, N_X, H]" }`. Roles not
 * given are replicated. The dims must be the role's own, in its order (see `ROLE_DIMS`).
 */
export type LlamaLayout = Readonly<Partial<Record<LlamaRole, string>>>;

export const ROLE_DIMS: { readonly [R in LlamaRole]: string } = {
  embed: "[V, D]",
  attnNorm: "[D]",
  wq: "[D, N, H]",
  wk: "[D, K, H]",
  wv: "[D, K, H]",
  wo: "[N, H, D]",
  mlpNorm: "[D]",
  gate: "[D, F]",
  up: "[D, F]",
  down: "[F, D]",
  kvCache: "[B, S, K, H]",
  finalNorm: "[D]",
  unembed: "[D, V]",
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
  readonly layout?: LlamaLayout;
}

/** A traceable model: the forward function, its declared inputs and the dims dictionary. */
export interface ModelSpec<I> {
  readonly fn: (inputs: Traced<I>) => TraceResultOf;
  readonly inputs: I;
  readonly dims: Readonly<Record<string, number>>;
}

type TraceResultOf = Record<string, Tracer | readonly Record<string, Tracer>[]>;
type Traced<T> = T extends TensorSpec ? Tracer : { [K in keyof T]: Traced<T[K]> };

function layerInputs(w: DType, compute: DType, spec: (role: LlamaRole, name: string) => string) {
  return {
    attnNorm: param(spec("attnNorm", "attnNorm"), compute),
    wq: param(spec("wq", "Wq"), w),
    wk: param(spec("wk", "Wk"), w),
    wv: param(spec("wv", "Wv"), w),
    wo: param(spec("wo", "Wo"), w),
    mlpNorm: param(spec("mlpNorm", "mlpNorm"), compute),
    gate: param(spec("gate", "Wgate"), w),
    up: param(spec("up", "Wup"), w),
    down: param(spec("down", "Wdown"), w),
  };
}

/** `Name[dims]` for a role: the layout's sharding of it, or its replicated dims. */
function specFor(layout: LlamaLayout | undefined) {
  return (role: LlamaRole, name: string): string => {
    const given = layout?.[role];
    if (given === undefined) return `${name}${ROLE_DIMS[role]}`;
    const dims = given
      .replace(/_[A-Z]+/g, "")
      .replace(/\{.*\}/, "")
      .replace(/\s+/g, "");
    if (dims !== ROLE_DIMS[role].replace(/\s+/g, "")) {
      throw new ShardcostError(
        "notation",
        `layout gives ${role} the sharding "${given}", but ${role} has dims ${ROLE_DIMS[role]}`,
      );
    }
    return `${name}${given}`;
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
  const spec = specFor(options.layout);
  const inputs = {
    tokens: tensor("tokens[B]", "int32"),
    pos: tensor("pos[]", "int32"),
    ropeSin: tensor("ropeSin[B, Hh]", act),
    ropeCos: tensor("ropeCos[B, Hh]", act),
    embed: param(spec("embed", "embed"), w),
    layers: Array.from({ length: config.layers }, () => layerInputs(w, act, spec)),
    kv: Array.from({ length: config.layers }, () => ({
      k: cache(spec("kvCache", "Kcache"), kvType),
      v: cache(spec("kvCache", "Vcache"), kvType),
    })),
    finalNorm: param(spec("finalNorm", "finalNorm"), act),
    unembed: param(spec("unembed", "unembed"), w),
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
