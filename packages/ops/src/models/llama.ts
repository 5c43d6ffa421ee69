import {
  cache,
  type DType,
  param,
  ShardcostError,
  type TensorSpec,
  type Tracer,
  tensor,
} from "@shardcost/core";
import { constraintsFrom } from "../constrain.js";
import { contractTo, contractWith } from "../einsum.js";
import { add, astype, div, exp, mul, neg } from "../elementwise.js";
import { attention, flashAttention, gatedMlp, rmsnorm, rope } from "../nn.js";
import { dynamicUpdateSlice, gather, merge, split } from "../structural.js";
import {
  type ActivationRole,
  configDims,
  type LlamaConfig,
  type LlamaLayout,
  specFor,
  type WeightRole,
} from "./config.js";
import { moeMlp } from "./moe.js";

/**
 * A serving step: prefill (the whole prompt) or decode (one token per sequence against the KV
 * cache).
 */
export type Phase = "prefill" | "decode";

/**
 * A step's shape and numerics: batch, sequence or cache length, weight/KV/compute dtypes, attention
 * kind, and the layout that places every role.
 */
export interface StepOptions {
  /** Sequences processed together (B). */
  readonly batch: number;
  /** Decode: KV-cache length S. Prefill: prompt length T. */
  readonly seq: number;
  /** Prefill: the cache it fills (S ≥ T; default T). */
  readonly cacheLength?: number;
  readonly weights?: DType;
  readonly kv?: DType;
  /**
   * Compute dtype. A float is also the activations' dtype; "int8" keeps activations in bf16 and
   * runs the weight matmuls in int8 (activations quantized as they enter, at int8 OP/s).
   */
  readonly compute?: DType;
  /** Attention as one fused kernel (default), or written out with its score matrix in HBM. */
  readonly attention?: "flash" | "naive";
  readonly layout?: LlamaLayout;
  /** Decode: mask cache positions past `pos` (needed for numerics on a partly filled cache). */
  readonly mask?: boolean;
  /** MoE: groups the tokens are dispatched in (sharded groups bring AllToAlls) and capacity. */
  readonly groups?: number;
  readonly capacity?: number;
}

/** A traceable model: the forward function, its declared inputs and the dims dictionary. */
export interface ModelSpec<I> {
  readonly fn: (inputs: Traced<I>) => Record<string, unknown>;
  readonly inputs: I;
  readonly dims: Readonly<Record<string, number>>;
}
type Traced<T> = T extends TensorSpec ? Tracer : { [K in keyof T]: Traced<T[K]> };

function layerInputs(c: LlamaConfig, w: DType, act: DType, spec: ReturnType<typeof specFor>) {
  const mlp = c.moe
    ? {
        router: param(spec("router", "Wrouter"), act),
        expertGate: param(spec("expertGate", "Wegate"), w),
        expertUp: param(spec("expertUp", "Weup"), w),
        expertDown: param(spec("expertDown", "Wedown"), w),
        ...(c.moe.shared
          ? {
              sharedGate: param(spec("sharedGate", "Wsgate"), w),
              sharedUp: param(spec("sharedUp", "Wsup"), w),
              sharedDown: param(spec("sharedDown", "Wsdown"), w),
              sharedRouter: param(spec("sharedRouter", "Wsrouter"), act),
            }
          : {}),
      }
    : {
        gate: param(spec("gate", "Wgate"), w),
        up: param(spec("up", "Wup"), w),
        down: param(spec("down", "Wdown"), w),
      };
  return {
    attnNorm: param(spec("attnNorm", "attnNorm"), act),
    wq: param(spec("wq", "Wq"), w),
    wk: param(spec("wk", "Wk"), w),
    wv: param(spec("wv", "Wv"), w),
    wo: param(spec("wo", "Wo"), w),
    mlpNorm: param(spec("mlpNorm", "mlpNorm"), act),
    ...mlp,
  };
}

/**
 * A LLaMA-3 step, written as a JAX model file would be. Decode: B tokens at position `pos`
 * attend to a KV cache of S positions, which each layer updates in place with its new keys and
 * values (dynamic_update_slice). Prefill: T tokens of B prompts, causally masked, written into
 * the cache from position 0.
 */
export function llamaStep(config: LlamaConfig, phase: Phase, options: StepOptions) {
  checkConfig(config);
  const w = options.weights ?? "bf16";
  const kvType = options.kv ?? "bf16";
  const intMatmuls = options.compute === "int8";
  const act = intMatmuls ? "bf16" : (options.compute ?? "bf16");
  // Weight matmuls: in int8 when asked (the activation cast fuses into the einsum).
  const mm = contractWith(intMatmuls ? { compute: "int8", out: act } : undefined);
  const { D, F, N, K, H, V } = config;
  const spec = specFor(options.layout);
  const decode = phase === "decode";
  const tok = decode ? ["B"] : ["B", "T"];
  const tokText = tok.join(", ");
  const flash = options.attention !== "naive";
  const masked = decode ? options.mask === true : !flash;
  const moe = config.moe;
  const inputs = {
    tokens: tensor(`tokens[${tokText}]`, "int32"),
    pos: tensor("pos[]", "int32"),
    ropeSin: tensor(decode ? "ropeSin[B, Hh]" : "ropeSin[T, Hh]", act),
    ropeCos: tensor(decode ? "ropeCos[B, Hh]" : "ropeCos[T, Hh]", act),
    ...(masked ? { mask: tensor(decode ? "mask[B, S]" : "mask[T, S]", act) } : {}),
    ...(moe ? { dispatch: tensor("dispatch[Gr, Tg, E, C]", act) } : {}),
    embed: param(spec("embed", "embed"), w),
    layers: Array.from({ length: config.layers }, () => layerInputs(config, w, act, spec)),
    kv: Array.from({ length: config.layers }, () => ({
      k: cache(spec("kvCache", "Kcache"), kvType),
      v: cache(spec("kvCache", "Vcache"), kvType),
    })),
    finalNorm: param(spec("finalNorm", "finalNorm"), act),
    ...(config.tied ? {} : { unembed: param(spec("unembed", "unembed"), w) }),
  };
  type In = typeof inputs;
  // `shard()` at an activation role, when the layout constrains it.
  const at = constraintsFrom<ActivationRole>(options.layout?.activations);
  // A weight as its matmul uses it: gathered from storage first when the layout says so
  // (before any cast, so the collective moves the stored dtype).
  const use = constraintsFrom<WeightRole>(options.layout?.use);
  const fn = (x: Traced<In>) => {
    const tables = { sin: x.ropeSin, cos: x.ropeCos };
    const mask = "mask" in x ? (x.mask as Tracer) : undefined;
    let h = at("residual", astype(gather(x.embed, x.tokens, "V"), act));
    const caches: { k: Tracer; v: Tracer }[] = [];
    x.layers.forEach((layer, l) => {
      const kv = x.kv[l]!;
      const a = at("attnIn", rmsnorm(at("attnNormIn", h), layer.attnNorm, "D"));
      const q = rope(at("q", mm([...tok, "N", "H"], a, use("wq", layer.wq))), tables);
      const k = rope(at("kv", mm([...tok, "K", "H"], a, use("wk", layer.wk))), tables);
      const v = at("kv", mm([...tok, "K", "H"], a, use("wv", layer.wv)));
      const kc = dynamicUpdateSlice(kv.k, astype(k, kvType), "S", x.pos, decode ? undefined : "T");
      const vc = dynamicUpdateSlice(kv.v, astype(v, kvType), "S", x.pos, decode ? undefined : "T");
      caches.push({ k: kc, v: vc });
      const qg = split(q, "N", { K, G: N / K });
      const dims = { key: "S", head: "H", ...(decode ? {} : { query: "T" }) };
      const o = flash
        ? flashAttention(qg, astype(kc, act), astype(vc, act), dims)
        : attention(qg, astype(kc, act), astype(vc, act), { ...dims, ...(mask ? { mask } : {}) });
      const attnOut = at("attnOut", merge(o, ["K", "G"], "N"));
      h = at("residual", add(h, mm([...tok, "D"], attnOut, use("wo", layer.wo))));
      const m = at("mlpIn", rmsnorm(at("mlpNormIn", h), layer.mlpNorm, "D"));
      const { gate, up, down } = layer;
      const mlp =
        gate && up && down
          ? gatedMlp(
              m,
              { gate: use("gate", gate), up: use("up", up), down: use("down", down) },
              {
                matmul: mm,
                onProjected: (t) => at("mlpGateUp", t),
                onHidden: (t) => at("mlpHidden", t),
              },
            )
          : moeLayer(m, layer, x, tok);
      h = at("residual", add(h, at("mlpOut", mlp)));
    });
    const unembed = "unembed" in x ? use("unembed", x.unembed as Tracer) : x.embed;
    const logits = at("logits", mm([...tok, "V"], rmsnorm(h, x.finalNorm, "D"), unembed));
    return { logits, caches };
  };
  const T = decode ? 1 : options.seq;
  const S = decode ? options.seq : (options.cacheLength ?? options.seq);
  const tokens = options.batch * T;
  const groups = options.groups ?? 1;
  const moeDims: Record<string, number> = moe
    ? {
        E: moe.experts,
        Gr: groups,
        Tg: tokens / groups,
        C: options.capacity ?? Math.max(1, Math.ceil((tokens / groups) * (moe.topK / moe.experts))),
        ...(moe.shared ? { Fs: moe.shared.F } : {}),
      }
    : {};
  const dims = {
    B: options.batch,
    ...(decode ? {} : { T }),
    S,
    D,
    F,
    N,
    K,
    H,
    V,
    Hh: H / 2,
    ...moeDims,
  };
  return { fn, inputs, dims } satisfies ModelSpec<In>;
}

/** Shapes a LLaMA cannot have: each KV head serves whole query heads; RoPE rotates pairs. */
function checkConfig(c: LlamaConfig): void {
  const fail = (why: string): never => {
    throw new ShardcostError("dim-size", `model ${c.name}: ${why}`);
  };
  for (const [k, v] of Object.entries({ L: c.layers, ...configDims(c) })) {
    if (!Number.isSafeInteger(v) || v < (k === "L" ? 0 : 1))
      fail(`${k}=${v} is not a positive integer`);
  }
  if (c.N % c.K !== 0) {
    fail(`N=${c.N} query heads are not a multiple of K=${c.K} KV heads (grouped-query attention)`);
  }
  if (c.H % 2 !== 0) fail(`head dim H=${c.H} is odd; RoPE rotates pairs of features`);
}

/** Tokens regrouped for dispatch ([Gr, Tg]), through the experts, and back. */
function moeLayer(m: Tracer, layer: object, x: object, tok: readonly string[]): Tracer {
  const w = layer as Parameters<typeof moeMlp>[1];
  const dispatch = (x as { dispatch: Tracer }).dispatch;
  const flat = tok.length === 1 ? m : merge(m, tok, "Bt");
  const grouped = split(flat, tok.length === 1 ? "B" : "Bt", {
    Gr: dispatch.size("Gr"),
    Tg: dispatch.size("Tg"),
  });
  const y = moeMlp(grouped, w, dispatch);
  const back = merge(y, ["Gr", "Tg"], tok.length === 1 ? "B" : "Bt");
  const routed = tok.length === 1 ? back : split(back, "Bt", { B: m.size("B"), T: m.size("T") });
  const s = layer as Partial<
    Record<"sharedGate" | "sharedUp" | "sharedDown" | "sharedRouter", Tracer>
  >;
  if (!s.sharedGate || !s.sharedUp || !s.sharedDown || !s.sharedRouter) return routed;
  // Qwen2-MoE's shared expert: every token, scaled by sigmoid(x·w) = 1 / (1 + exp(−x·w)).
  const shared = gatedMlp(
    m,
    { gate: s.sharedGate, up: s.sharedUp, down: s.sharedDown },
    { hidden: "Fs" },
  );
  const score = contractTo(tok, m, s.sharedRouter);
  const gate = div(1, add(exp(neg(score)), 1));
  return add(routed, mul(shared, gate));
}

/** The decode step of a LLaMA-family model (`llamaStep` with phase decode). */
export const llamaDecode = (config: LlamaConfig, options: StepOptions) =>
  llamaStep(config, "decode", options);
/** The prefill step of a LLaMA-family model (`llamaStep` with phase prefill). */
export const llamaPrefill = (config: LlamaConfig, options: StepOptions) =>
  llamaStep(config, "prefill", options);

export type { LlamaConfig };

/** Tokens one step processes: decode one per sequence, prefill every prompt token. */
export function tokensPerStep(phase: Phase, batch: number, seq: number): number {
  return phase === "decode" ? batch : batch * seq;
}
