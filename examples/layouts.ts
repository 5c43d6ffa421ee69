/**
 * A model-parallel layout of the LLaMA decode step used by the benchmarks and examples until
 * the layout presets land: attention heads over X (KV heads are only 8), the KV cache over
 * heads (X) and batch (Y), the MLP hidden dim and the vocabulary over X and Y, the residual
 * stream replicated.
 */
import type { LlamaLayout } from "@shardcost/ops";

export const HEADS_X_MLP_XY: LlamaLayout = {
  wq: "[D, N_X, H]",
  wk: "[D, K_X, H]",
  wv: "[D, K_X, H]",
  wo: "[N_X, H, D]",
  gate: "[D, F_XY]",
  up: "[D, F_XY]",
  down: "[F_XY, D]",
  kvCache: "[B_Y, S, K_X, H]",
  unembed: "[D, V_XY]",
};
