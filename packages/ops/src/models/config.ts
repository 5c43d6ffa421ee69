import { readFileSync } from "node:fs";
import { registerModelCode, ShardcostError, type Sharding } from "@shardcost/core";

/** A LLaMA-3-shaped decoder: grouped-query attention, RoPE, RMSNorm, SwiGLU. */
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
  /** Whether the output projection reuses the embedding table (default: untied). */
  readonly tied?: boolean;
  /**
   * A mixture of experts in place of the MLP: E experts (each with hidden dim F), each token
   * routed to k of them; Qwen2-MoE adds a shared expert every token takes (hidden dim
   * `shared.F`, scaled by a sigmoid gate).
   */
  readonly moe?: {
    readonly experts: number;
    readonly topK: number;
    readonly shared?: { readonly F: number };
  };
}

/** A config's dim sizes by name: D, F, N, K, H, V, and E (experts) and Fs (shared expert). */
export function configDims(c: LlamaConfig): Record<string, number> {
  return {
    D: c.D,
    F: c.F,
    N: c.N,
    K: c.K,
    H: c.H,
    V: c.V,
    E: c.moe?.experts ?? 1,
    ...(c.moe?.shared ? { Fs: c.moe.shared.F } : {}),
  };
}

/** Meta's published LLaMA 3 shapes (the config.json of each release). */
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
/** LLaMA-3-70B: 80 layers, D 8192, F 28672, 64 query and 8 KV heads of 128, vocab 128256. */
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
/** LLaMA-3.1-405B: 126 layers, D 16384, F 53248, 128 query and 8 KV heads of 128, vocab 128256. */
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

/** The built-in models by the name `--model` takes. */
export const LLAMA3_PRESETS: Readonly<Record<string, LlamaConfig>> = {
  "llama3-8b": LLAMA3_8B,
  "llama3-70b": LLAMA3_70B,
  "llama3-405b": LLAMA3_405B,
};

/**
 * The Hugging Face architectures this model builder covers: decoders with grouped-query
 * attention, RoPE, RMSNorm and a SwiGLU MLP (Mixtral: a mixture of SwiGLU experts; Qwen2-MoE:
 * experts plus a gated shared expert). Qwen2's q/k/v biases are not modelled (under 0.01% of
 * its parameters).
 */
const HF_ARCHITECTURES: Readonly<Record<string, string>> = {
  LlamaForCausalLM: "llama",
  MistralForCausalLM: "mistral",
  Qwen2ForCausalLM: "qwen2",
  MixtralForCausalLM: "mixtral",
  Qwen2MoeForCausalLM: "qwen2_moe",
};
const HF_MODEL_TYPES = new Set(Object.values(HF_ARCHITECTURES));

/** Fields every supported config must give (the rest take Hugging Face's defaults). */
const HF_REQUIRED = [
  "hidden_size",
  "intermediate_size",
  "num_attention_heads",
  "num_hidden_layers",
  "vocab_size",
] as const;

/**
 * A LlamaConfig from a Hugging Face `config.json` object, by its `architectures` (else its
 * `model_type`): LLaMA, Mistral, Qwen2, Mixtral (experts and top-k) and Qwen2-MoE (experts, top-k
 * and the shared expert). A missing required field
 * is an error naming it; absent optional fields take Hugging Face's defaults
 * (`num_key_value_heads` = heads, `head_dim` = hidden_size / heads, `tie_word_embeddings` false,
 * Mixtral 8 experts, top 2); another architecture is an error naming it and the supported ones.
 */
export function llamaConfigFromHf(json: unknown, name = "config.json"): LlamaConfig {
  if (typeof json !== "object" || json === null) {
    throw new ShardcostError("input", `${name}: expected a JSON object`);
  }
  const o = json as Record<string, unknown>;
  const archs = Array.isArray(o.architectures) ? o.architectures : [];
  const arch = archs.find((a): a is string => typeof a === "string" && a in HF_ARCHITECTURES);
  const type = arch ? HF_ARCHITECTURES[arch]! : o.model_type;
  if (typeof type !== "string" || !HF_MODEL_TYPES.has(type)) {
    const what =
      archs.length > 0
        ? `architecture ${archs.join(", ")} is not supported`
        : o.model_type === undefined
          ? 'no "architectures" or "model_type" says what model this is'
          : `model_type ${JSON.stringify(o.model_type)} is not supported`;
    throw new ShardcostError(
      "input",
      `${name}: ${what}; shardcost models ` +
        `${Object.keys(HF_ARCHITECTURES).join(", ")} (model_type ${[...HF_MODEL_TYPES].join(", ")})`,
    );
  }
  for (const f of HF_REQUIRED) {
    if (!Object.hasOwn(o, f)) throw new ShardcostError("input", `${name}: missing field "${f}"`);
  }
  const int = (f: string, fallback?: number): number => {
    const raw = Object.hasOwn(o, f) ? o[f] : undefined;
    const v = raw ?? fallback;
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) {
      throw new ShardcostError(
        "input",
        `${name}: "${f}" must be a positive integer, got ${JSON.stringify(raw ?? null)}`,
      );
    }
    return v;
  };
  const D = int("hidden_size");
  const N = int("num_attention_heads");
  const K = int("num_key_value_heads", N);
  const H = "head_dim" in o && o.head_dim !== null ? int("head_dim") : D / N;
  if (!Number.isInteger(H)) {
    throw new ShardcostError(
      "input",
      `${name}: hidden_size ${D} is not divisible by ${N} heads; give head_dim`,
    );
  }
  if (N % K !== 0) {
    throw new ShardcostError(
      "input",
      `${name}: ${N} attention heads are not a multiple of ${K} KV heads`,
    );
  }
  const tied = o.tie_word_embeddings ?? false;
  if (typeof tied !== "boolean") {
    throw new ShardcostError("input", `${name}: "tie_word_embeddings" must be true or false`);
  }
  let moe: LlamaConfig["moe"];
  let F = int("intermediate_size");
  if (type === "mixtral") {
    moe = { experts: int("num_local_experts", 8), topK: int("num_experts_per_tok", 2) };
  } else if (type === "qwen2_moe") {
    // Every layer sparse (decoder_sparse_step 1, no mlp_only_layers), as the released models.
    const step = o.decoder_sparse_step ?? 1;
    const dense = o.mlp_only_layers ?? [];
    if (step !== 1 || !Array.isArray(dense) || dense.length > 0) {
      throw new ShardcostError(
        "input",
        `${name}: Qwen2-MoE with dense layers among the sparse ones (decoder_sparse_step ` +
          `${JSON.stringify(step)}, mlp_only_layers ${JSON.stringify(dense)}) is not supported; ` +
          "shardcost models every layer as a mixture of experts",
      );
    }
    F = int("moe_intermediate_size");
    const sharedF = Object.hasOwn(o, "shared_expert_intermediate_size")
      ? int("shared_expert_intermediate_size")
      : 0;
    moe = {
      experts: int("num_experts", 60),
      topK: int("num_experts_per_tok", 4),
      ...(sharedF > 0 ? { shared: { F: sharedF } } : {}),
    };
  }
  return {
    name: `${type}:${name}`,
    layers: int("num_hidden_layers"),
    D,
    F,
    N,
    K,
    H,
    V: int("vocab_size"),
    tied,
    ...(moe ? { moe } : {}),
  };
}

/** Reads and parses a local `config.json`. */
export function readHfConfig(path: string): LlamaConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ShardcostError(
      "input",
      `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? e}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ShardcostError("input", `${path} is not valid JSON: ${(e as Error).message}`);
  }
  return llamaConfigFromHf(json, path);
}

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
  | "router"
  | "expertGate"
  | "expertUp"
  | "expertDown"
  | "sharedGate"
  | "sharedUp"
  | "sharedDown"
  | "sharedRouter"
  | "kvCache"
  | "finalNorm"
  | "unembed";

/** Mesh axes per dim name, in order (`{ N: ["X", "Y"] }` is `N_XY`); dims not named are whole. */
export type DimAxes = Readonly<Record<string, readonly string[]>>;

/**
 * A role's sharding: notation without the name (`"[D, N_X, H]"`, the dims in the role's order,
 * see `ROLE_DIMS`), or mesh axes per dim (`{ N: ["X"] }`), as the named layouts give it.
 */
export type RoleSharding = string | DimAxes;

/** Roles that are weights (every role but the KV cache). */
export type WeightRole = Exclude<LlamaRole, "kvCache">;

/**
 * Where each tensor of a LLaMA lives, by role. Roles not given are replicated.
 * - the roles themselves (`wq`, `kvCache`, …): how weights and caches are **stored**;
 * - `use`: how a weight must be sharded right before its matmul, when that differs from its
 *   storage (weight-gathered and FSDP layouts gather weights before use); the constraint sits
 *   before any dtype cast, so a gathered int8 weight moves one byte per parameter;
 * - `activations`: sharding constraints on activations at the named points of a layer.
 */
export type LlamaLayout = Readonly<Partial<Record<LlamaRole, RoleSharding>>> & {
  readonly use?: Readonly<Partial<Record<WeightRole, DimAxes>>>;
  readonly activations?: Readonly<Partial<Record<ActivationRole, DimAxes>>>;
};

/**
 * Points in a layer where a layout may constrain activations:
 * - `residual`: the residual stream after the embedding and after each sublayer;
 * - `attnNormIn`, `mlpNormIn`: the residual as it enters each RMSNorm;
 * - `attnIn`, `mlpIn`: the normed inputs of attention and of the MLP;
 * - `q`, `kv`: the query and key/value projections (before RoPE), as the attention core wants
 *   them;
 * - `attnOut`: the attention output (heads merged) as it enters the output projection;
 * - `mlpGateUp`: the gate and up projections; `mlpHidden`: their product, before the down
 *   projection; `mlpOut`: the MLP's output;
 * - `logits`: the output projection's result (a layout splitting the unembedding on D reduces
 *   its partial sums here).
 */
export type ActivationRole =
  | "residual"
  | "attnNormIn"
  | "attnIn"
  | "q"
  | "kv"
  | "attnOut"
  | "mlpNormIn"
  | "mlpIn"
  | "mlpGateUp"
  | "mlpHidden"
  | "mlpOut"
  | "logits";

/** Each weight role's dims, in the order its tensor declares them. */
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
  router: "[D, E]",
  expertGate: "[E, D, F]",
  expertUp: "[E, D, F]",
  expertDown: "[E, F, D]",
  sharedGate: "[D, Fs]",
  sharedUp: "[D, Fs]",
  sharedDown: "[Fs, D]",
  sharedRouter: "[D]",
  kvCache: "[B, S, K, H]",
  finalNorm: "[D]",
  unembed: "[D, V]",
};

/**
 * A role's declaration: the layout's sharding of it (as data when the layout gives axes; as the
 * notation the user wrote otherwise), or its replicated dims.
 */
export function specFor(layout: LlamaLayout | undefined) {
  return (role: LlamaRole, name: string): string | Sharding => {
    const given = layout?.[role];
    if (given === undefined) return `${name}${ROLE_DIMS[role]}`;
    if (typeof given !== "string") return shardingOf(name, ROLE_DIMS[role], given);
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

/** The dim names of unsharded notation: `[D, N, H]` → D, N, H (as `ROLE_DIMS` writes them). */
export const dimNames = (dims: string): string[] => dims.replace(/[[\]\s]/g, "").split(",");

/** `Wq` with dims `[D, N, H]` and `{ N: ["X"] }` → the sharding `Wq[D, N_X, H]`, as data. */
export function shardingOf(name: string, dims: string, axes: DimAxes): Sharding {
  const names = dimNames(dims);
  for (const d of Object.keys(axes)) {
    if (!names.includes(d)) {
      throw new ShardcostError("notation", `a layout shards dim ${d}, which ${dims} does not have`);
    }
  }
  return { name, dims: names.map((dim) => ({ dim, axes: axes[dim] ?? [] })), partial: [] };
}

// Built-in model definitions (this folder) are model code: reports show their source lines.
registerModelCode("ops", "models/");
