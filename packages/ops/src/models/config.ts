import { readFileSync } from "node:fs";
import { ShardcostError } from "@shardcost/core";

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
  /** A mixture of experts in place of the MLP: E experts, each token routed to k of them. */
  readonly moe?: { readonly experts: number; readonly topK: number };
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

export const LLAMA3_PRESETS: Readonly<Record<string, LlamaConfig>> = {
  "llama3-8b": LLAMA3_8B,
  "llama3-70b": LLAMA3_70B,
  "llama3-405b": LLAMA3_405B,
};

const HF_FIELDS = [
  "hidden_size",
  "intermediate_size",
  "num_attention_heads",
  "num_key_value_heads",
  "num_hidden_layers",
  "vocab_size",
  "tie_word_embeddings",
] as const;

/**
 * A LlamaConfig from a Hugging Face `config.json` object. Every field the model needs must be
 * there (a missing one is an error naming it); `head_dim` defaults to hidden_size / heads.
 */
export function llamaConfigFromHf(json: unknown, name = "config.json"): LlamaConfig {
  if (typeof json !== "object" || json === null) {
    throw new ShardcostError("input", `${name}: expected a JSON object`);
  }
  const o = json as Record<string, unknown>;
  for (const f of HF_FIELDS) {
    if (!(f in o)) throw new ShardcostError("input", `${name}: missing field "${f}"`);
  }
  const int = (f: string): number => {
    const v = o[f];
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) {
      throw new ShardcostError(
        "input",
        `${name}: "${f}" must be a positive integer, got ${JSON.stringify(v)}`,
      );
    }
    return v;
  };
  const D = int("hidden_size");
  const N = int("num_attention_heads");
  const K = int("num_key_value_heads");
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
  if (typeof o.tie_word_embeddings !== "boolean") {
    throw new ShardcostError("input", `${name}: "tie_word_embeddings" must be true or false`);
  }
  return {
    name: typeof o.model_type === "string" ? `${o.model_type}:${name}` : name,
    layers: int("num_hidden_layers"),
    D,
    F: int("intermediate_size"),
    N,
    K,
    H,
    V: int("vocab_size"),
    tied: o.tie_word_embeddings,
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
  | "kvCache"
  | "finalNorm"
  | "unembed";

/**
 * Sharding of each role in notation without the name, e.g. `{ wq: "[D, N_X, H]" }`. Roles not
 * given are replicated. The dims must be the role's own, in its order (see `ROLE_DIMS`).
 */
export type LlamaLayout = Readonly<Partial<Record<LlamaRole, string>>> & {
  /**
   * Sharding constraints on activations, as mesh axes per dim name (`{ D: "X" }`), at: the
   * residual stream after each sublayer, the attention's normed input, the query/key/value
   * projections (before RoPE), the MLP's normed input, its hidden activations and its output.
   * Dims not named are replicated.
   */
  readonly activations?: Readonly<
    Partial<Record<ActivationRole, Readonly<Record<string, string>>>>
  >;
};

export type ActivationRole = "residual" | "attnIn" | "qkv" | "mlpIn" | "mlpHidden" | "mlpOut";

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
  kvCache: "[B, S, K, H]",
  finalNorm: "[D]",
  unembed: "[D, V]",
};

/** `Name[dims]` for a role: the layout's sharding of it, or its replicated dims. */
export function specFor(layout: LlamaLayout | undefined) {
  return (role: LlamaRole, name: string): string => {
    const given = layout?.[role] as string | undefined;
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
