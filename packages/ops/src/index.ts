/**
 * The ops users call (einsum, elementwise, reductions, gathers, slices, reshapes, casts), composites (softmax, RMSNorm, RoPE, attention, gated MLP, MoE) and the built-in LLaMA-family models with their layout roles.
 *
 * @module @shardcost/ops
 */
export { constraintsFrom } from "./constrain.js";
export { type EinsumOptions, einsum } from "./einsum.js";
export {
  add,
  astype,
  div,
  exp,
  gelu,
  log,
  max,
  maximum,
  mean,
  mul,
  neg,
  rsqrt,
  silu,
  sub,
  sum,
  tanh,
} from "./elementwise.js";
export {
  type ActivationRole,
  configDims,
  type DimAxes,
  dimNames,
  LLAMA3_8B,
  LLAMA3_70B,
  LLAMA3_405B,
  LLAMA3_PRESETS,
  type LlamaConfig,
  type LlamaLayout,
  type LlamaRole,
  llamaConfigFromHf,
  ROLE_DIMS,
  type RoleSharding,
  readHfConfig,
  shardingOf,
  specFor,
  type WeightRole,
} from "./models/config.js";
export {
  llamaDecode,
  llamaPrefill,
  llamaStep,
  type ModelSpec,
  type Phase,
  type StepOptions,
  tokensPerStep,
} from "./models/llama.js";
export { type MoeWeights, moeMlp } from "./models/moe.js";
export {
  type AttentionDims,
  type AttentionOptions,
  attention,
  flashAttention,
  type GatedMlpOptions,
  type GatedMlpWeights,
  gatedMlp,
  layernorm,
  type RopeTables,
  rmsnorm,
  rope,
  type SoftmaxOptions,
  softmax,
} from "./nn.js";
export {
  concatenate,
  dynamicSlice,
  dynamicUpdateSlice,
  gather,
  merge,
  rename,
  type SliceOptions,
  shard,
  split,
} from "./structural.js";
