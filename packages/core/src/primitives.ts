import type { DType } from "./dtype.js";
import type { Sharding } from "./notation.js";

/**
 * The closed primitive set. The string value is the printed name; the comment is the contract.
 * Everything else is composed from these by the ops built on them.
 */
export enum Primitive {
  /** 2·∏(distinct dim sizes) FLOPs; operands and result matched by dim name. */
  Einsum = "einsum",
  /** Elementwise e^x; 1 transcendental per element. */
  Exp = "exp",
  /** Elementwise ln x; 1 transcendental per element. */
  Log = "log",
  /** Elementwise tanh; 1 transcendental per element. */
  Tanh = "tanh",
  /** Elementwise 1/√x; 1 transcendental per element. */
  Rsqrt = "rsqrt",
  /** Elementwise −x; 1 op per element. */
  Neg = "neg",
  /** Elementwise x·σ(x); 4 ops and 1 transcendental per element. */
  Silu = "silu",
  /** Elementwise tanh-approximated GELU; 7 ops and 1 transcendental per element. */
  Gelu = "gelu",
  /** Elementwise dtype conversion; no FLOPs, fuses into its consumer. */
  Cast = "astype",
  /** a + b broadcast by dim name; 1 op per output element. */
  Add = "add",
  /** a − b broadcast by dim name; 1 op per output element. */
  Sub = "sub",
  /** a · b broadcast by dim name; 1 op per output element. */
  Mul = "mul",
  /** a / b broadcast by dim name; 1 op per output element. */
  Div = "div",
  /** max(a, b) broadcast by dim name; 1 op per output element. */
  Max = "max",
  /** Sum over named dims; 1 op per input element. */
  ReduceSum = "sum",
  /** Max over named dims; 1 op per input element. */
  ReduceMax = "reduce_max",
  /** Mean over named dims; 1 op per input element + 1 per output element. */
  ReduceMean = "mean",
  /** Rows of a table picked by integer ids (embedding lookup); reads only the rows it takes. */
  Gather = "gather",
  /** A window of one dim at a dynamic offset; reads only the window. */
  DynamicSlice = "dynamic_slice",
  /** Writes an update into one dim at a dynamic offset, in place: costs only the update. */
  DynamicUpdateSlice = "dynamic_update_slice",
  /** Renames a dim; free. */
  Rename = "rename",
  /** Splits one dim into several (N → K×G), row-major; free. */
  Split = "split",
  /** Merges adjacent dims into one (K×G → N), row-major; free. */
  Merge = "merge",
  /** Joins operands along one dim; reads and writes every element once. */
  Concatenate = "concatenate",
  /** softmax(q·k·scale)·v in one kernel, no score matrix in HBM; 4·∏dims·H FLOPs + 5/score. */
  FlashAttention = "flash_attention",
  /** A sharding constraint, like jax.lax.with_sharding_constraint; identity on values. */
  Shard = "shard",
  /** Collective: gathers the trailing mesh `axes` of `dim` from every device in the group. */
  AllGather = "all_gather",
  /** Collective: sums partial sums over `axes` and scatters the result along `dim`. */
  ReduceScatter = "reduce_scatter",
  /** Collective: sums partial sums over `axes` (or takes their max); every device keeps it. */
  AllReduce = "all_reduce",
  /** Collective: moves the trailing mesh `axes` of dim `from` onto dim `to`. */
  AllToAll = "all_to_all",
  /** Local: each device keeps its own block of `dim` along `axes` (no communication). */
  ShardSlice = "shard_slice",
}

/** Every primitive of the closed set. */
export const PRIMITIVES: readonly Primitive[] = Object.values(Primitive);

/** The elementwise primitives of one operand. */
export type UnaryPrimitive =
  | Primitive.Exp
  | Primitive.Log
  | Primitive.Tanh
  | Primitive.Rsqrt
  | Primitive.Neg
  | Primitive.Silu
  | Primitive.Gelu;

/** The elementwise primitives of two operands, broadcast by dim name. */
export type BinaryPrimitive =
  | Primitive.Add
  | Primitive.Sub
  | Primitive.Mul
  | Primitive.Div
  | Primitive.Max;

/** The reductions over named dims. */
export type ReducePrimitive = Primitive.ReduceSum | Primitive.ReduceMax | Primitive.ReduceMean;

/** Params of `einsum`: the spec and its parsed operand and result dims, and the result dtype. */
export interface EinsumParams {
  /** The spec as written, e.g. "BD,DF->BF". */
  readonly spec: string;
  readonly inputs: readonly (readonly string[])[];
  readonly output: readonly string[];
  /** Result dtype (the compute dtype is the operands' common dtype). */
  readonly outDtype: DType;
}
/** Params of a primitive that has none. */
export type NoParams = Readonly<Record<never, never>>;
/** Params of `astype`: the target dtype. */
export interface CastParams {
  readonly dtype: DType;
}
/** Params of a reduction: the dims it reduces. */
export interface ReduceParams {
  readonly dims: readonly string[];
}
/** Params of `mean`: the dims, and after lowering the global count it divides by. */
export interface MeanParams extends ReduceParams {
  /** Divide by this many elements instead of the local count (a sharded mean's global count). */
  readonly count?: number;
}
/** Params of `gather`: the table dim the ids index. */
export interface GatherParams {
  /** The table dim the ids index, e.g. V. */
  readonly dim: string;
}
/** Params of `dynamic_slice`: the dim sliced and the window's dim name (null: one position). */
export interface DynamicSliceParams {
  readonly dim: string;
  /** The window's dim name in the result, or null to take one position and drop the dim. */
  readonly outDim: string | null;
}
/** Params of `dynamic_update_slice`: the dim written and the update's dim name. */
export interface DynamicUpdateSliceParams {
  readonly dim: string;
  /** The update's dim laid along `dim`, or null when the update is one position without it. */
  readonly updateDim: string | null;
}
/** Params of `rename`: the dim's old and new names. */
export interface RenameParams {
  readonly from: string;
  readonly to: string;
}
/** Params of `split`: the dim and the dims it becomes. */
export interface SplitParams {
  readonly dim: string;
  readonly into: readonly string[];
}
/** Params of `merge`: the adjacent dims and the dim they become. */
export interface MergeParams {
  readonly dims: readonly string[];
  readonly into: string;
}
/** Params of `concatenate`: each operand's dim and the result dim. */
export interface ConcatenateParams {
  /** Per operand, the dim laid along the result's `dim`. */
  readonly inputDims: readonly string[];
  readonly dim: string;
}
/**
 * Params of `flash_attention`: query, key and head dims, the scale, and whether it returns its
 * log-sum-exp.
 */
export interface FlashAttentionParams {
  /** Query length dim (T, or null in single-token decode), key length (S) and head dim (H). */
  readonly query: string | null;
  readonly key: string;
  readonly head: string;
  readonly scale: number;
  /**
   * Also return the log-sum-exp of each score row (f32, q's dims without the head): set by
   * lowering when the key dim is split, so per-device results can be combined (flash-decoding).
   */
  readonly stats?: boolean;
}
/** Params of `shard`: the sharding the value must have. */
export interface ShardParams {
  readonly sharding: Sharding;
}

/** Params of a collective along one dim: the dim and the mesh axes. */
export interface AxisDimParams {
  readonly dim: string;
  readonly axes: readonly string[];
}
/** Params of an AllGather: the dim(s) and the mesh axes gathered. */
export interface AllGatherParams extends AxisDimParams {
  /**
   * When one AllGather spans several dims (`[B_X, D_Y] → [B, D]` over XY, using every axis's
   * links at once): each dim with the trailing axes it loses. Then `dim` and `axes` are the
   * first dim and the union of the axes, in the parts' order.
   */
  readonly parts?: readonly AxisDimParams[];
}
/** Params of a collective over mesh axes. */
export interface AxesParams {
  readonly axes: readonly string[];
}
/** Params of an AllReduce: the mesh axes, and sum (default) or max. */
export interface AllReduceParams extends AxesParams {
  /** Sum (default: partial sums reduced) or max (per-device maxima combined). */
  readonly op?: "max";
}
/** Params of an AllToAll: the dim that loses the axes, the dim that gains them, and the axes. */
export interface AllToAllParams {
  readonly from: string;
  readonly to: string;
  readonly axes: readonly string[];
}

/** Each primitive's params type: the IR's params are typed by primitive. */
export interface ParamsTable {
  [Primitive.Einsum]: EinsumParams;
  [Primitive.Exp]: NoParams;
  [Primitive.Log]: NoParams;
  [Primitive.Tanh]: NoParams;
  [Primitive.Rsqrt]: NoParams;
  [Primitive.Neg]: NoParams;
  [Primitive.Silu]: NoParams;
  [Primitive.Gelu]: NoParams;
  [Primitive.Cast]: CastParams;
  [Primitive.Add]: NoParams;
  [Primitive.Sub]: NoParams;
  [Primitive.Mul]: NoParams;
  [Primitive.Div]: NoParams;
  [Primitive.Max]: NoParams;
  [Primitive.ReduceSum]: ReduceParams;
  [Primitive.ReduceMax]: ReduceParams;
  [Primitive.ReduceMean]: MeanParams;
  [Primitive.Gather]: GatherParams;
  [Primitive.DynamicSlice]: DynamicSliceParams;
  [Primitive.DynamicUpdateSlice]: DynamicUpdateSliceParams;
  [Primitive.Rename]: RenameParams;
  [Primitive.Split]: SplitParams;
  [Primitive.Merge]: MergeParams;
  [Primitive.Concatenate]: ConcatenateParams;
  [Primitive.FlashAttention]: FlashAttentionParams;
  [Primitive.Shard]: ShardParams;
  [Primitive.AllGather]: AllGatherParams;
  [Primitive.ReduceScatter]: AxisDimParams;
  [Primitive.AllReduce]: AllReduceParams;
  [Primitive.AllToAll]: AllToAllParams;
  [Primitive.ShardSlice]: AxisDimParams;
}

/** The params type of primitive `P`. */
export type ParamsOf<P extends Primitive> = ParamsTable[P];

/** How the fusion pass treats a primitive (see `fusion.ts`). */
export type FusionKind =
  /** Elementwise compute, slices and concatenation: loop-fuse with neighbours, never into an
   * einsum. */
  | "elementwise"
  /** Free or layout-only (casts, renames, constraints): fuses into its consumer, even an einsum. */
  | "passthrough"
  /** Reductions: fuse with elementwise neighbours into one loop. */
  | "reduce"
  /** Its own kernel: einsum, gather, in-place update, flash attention. */
  | "kernel"
  /** Communication between chips: never fuses. */
  | "collective";

/** How the fusion pass treats each primitive (a total table). */
export const fusionKind: { readonly [P in Primitive]: FusionKind } = {
  [Primitive.Einsum]: "kernel",
  [Primitive.Exp]: "elementwise",
  [Primitive.Log]: "elementwise",
  [Primitive.Tanh]: "elementwise",
  [Primitive.Rsqrt]: "elementwise",
  [Primitive.Neg]: "elementwise",
  [Primitive.Silu]: "elementwise",
  [Primitive.Gelu]: "elementwise",
  [Primitive.Cast]: "passthrough",
  [Primitive.Add]: "elementwise",
  [Primitive.Sub]: "elementwise",
  [Primitive.Mul]: "elementwise",
  [Primitive.Div]: "elementwise",
  [Primitive.Max]: "elementwise",
  [Primitive.ReduceSum]: "reduce",
  [Primitive.ReduceMax]: "reduce",
  [Primitive.ReduceMean]: "reduce",
  [Primitive.Gather]: "kernel",
  [Primitive.DynamicSlice]: "elementwise",
  [Primitive.DynamicUpdateSlice]: "kernel",
  [Primitive.Rename]: "passthrough",
  [Primitive.Split]: "passthrough",
  [Primitive.Merge]: "passthrough",
  [Primitive.Concatenate]: "elementwise",
  [Primitive.FlashAttention]: "kernel",
  [Primitive.Shard]: "passthrough",
  [Primitive.AllGather]: "collective",
  [Primitive.ReduceScatter]: "collective",
  [Primitive.AllReduce]: "collective",
  [Primitive.AllToAll]: "collective",
  [Primitive.ShardSlice]: "elementwise",
};
