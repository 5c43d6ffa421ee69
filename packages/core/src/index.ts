/**
 * Dims and dtypes, the sharding notation, the IR and its tracer, the closed primitive set with its total rule tables (shape, cost, numeric), the reference interpreter, the chip catalog, fusion and the per-chip roofline estimator.
 *
 * @module @shardcost/core
 */
export {
  aval,
  axesList,
  dimSharding,
  internAval,
  plainAval,
  resharded,
  withDtype,
} from "./aval.js";
export {
  COLLECTIVES,
  type CollectiveInfo,
  type CollectivePrimitive,
  type CollectiveTable,
  isCollective,
} from "./collectives.js";
export { avalBytes, elements, type OpCost, type SizeContext } from "./cost-rules.js";
export { debugPass } from "./debug.js";
export { fusionGraph, toDot } from "./dot.js";
export {
  byteSize,
  bytesOf,
  type ComputeClass,
  computeClass,
  DTYPES,
  type DType,
  isDType,
  isFloat,
  precisionRank,
} from "./dtype.js";
export { type ErrorCode, NotationError, OpError, ShardcostError } from "./errors.js";
export { type Estimate, type EstimateOptions, estimate, globalSizes } from "./estimate.js";
export {
  type Align,
  formatBytes,
  formatCapacity,
  formatFlops,
  formatTime,
  si,
  table,
} from "./format.js";
export {
  type FusedProgram,
  type Fusion,
  type FusionGroup,
  fuse,
  fuseKernels,
  printFused,
  runsWithin,
} from "./fusion.js";
export {
  isTopologicallyOrdered,
  knownVarCount,
  lastUses,
  type ProgramGraph,
  programGraph,
  topologicalOrder,
  varCountOf,
} from "./graph.js";
export {
  CATALOG_SOURCES,
  CHIPS,
  type Chip,
  type ChipName,
  chip,
  derate,
  type Efficiency,
  linkName,
  PEAK_EFFICIENCY,
  peakFlops,
  type Topology,
} from "./hardware.js";
export { type ArrayInput, evalEqn, globalShape, inputArray, interpret } from "./interpret.js";
export type {
  Atom,
  Aval,
  Eqn,
  EqnOf,
  InputRole,
  Literal,
  Program,
  ProgramInput,
  ProgramOutput,
  Var,
} from "./ir.js";
export {
  type Bound,
  boundOf,
  type CollectiveCost,
  type CollectiveCostFn,
  eqnCost,
  type OpEstimate,
} from "./kernel-cost.js";
export {
  type LinearCosts,
  linearCosts,
  type StepCostsAt,
  type StoredDtypes,
  type StoredRole,
  type StoredVariable,
} from "./linear-costs.js";
export { entry } from "./maps.js";
export { type MemoryEstimate, memoryVerdict } from "./memory.js";
export { forEachIndex, layout, type NDArray, ndarray, stridesOf } from "./ndarray.js";
export {
  axesOf,
  checkSharding,
  type DimSharding,
  parseSharding,
  printDim,
  printPartial,
  printSharding,
  type Sharding,
} from "./notation.js";
export { contract, type Operand, type ResultShape } from "./numeric-rules.js";
export { type MemoSlot, OpMemo } from "./op-memo.js";
export {
  type AllGatherParams,
  type AllReduceParams,
  type AllToAllParams,
  type AxesParams,
  type AxisDimParams,
  type BinaryPrimitive,
  type CastParams,
  type ConcatenateParams,
  type DynamicSliceParams,
  type DynamicUpdateSliceParams,
  type EinsumParams,
  type FlashAttentionParams,
  type FusionKind,
  fusionKind,
  type GatherParams,
  type MeanParams,
  type MergeParams,
  type NoParams,
  type ParamsOf,
  type ParamsTable,
  PRIMITIVES,
  Primitive,
  type ReduceParams,
  type ReducePrimitive,
  type RenameParams,
  type ShardParams,
  type SplitParams,
  type UnaryPrimitive,
} from "./primitives.js";
export {
  type PrintOptions,
  printAtom,
  printEqn,
  printOp,
  printProgram,
  printType,
  printVar,
} from "./printer.js";
export {
  formatGroupTable,
  formatMemory,
  formatOpTable,
  formatTotals,
  type GroupedEstimate,
  groupEstimate,
  groupKey,
  groupOps,
  type OpGroup,
  type ReportOptions,
  type StepView,
} from "./report.js";
export { retypeStorage, type StorageRetype } from "./retype.js";
export { roundBf16 } from "./rounding.js";
export { shapeRules } from "./shape-rules.js";
export {
  callerLocation,
  composite,
  type FrameMapper,
  formatLocation,
  registerModelCode,
  type SourceLocation,
  StackCapture,
  setFrameMapper,
  userFrame,
} from "./source.js";
export { sourceOf } from "./sources.js";
export {
  combineSums,
  STEP_FIGURES,
  type StepSums,
  type StepTotals,
  stepTotals,
} from "./step-sums.js";
export {
  bind1,
  cache,
  type Dims,
  isModel,
  type Model,
  model,
  packed,
  param,
  recordDeclarationSites,
  type TensorSpec,
  type Traced,
  type TraceOptions,
  type TraceResult,
  Tracer,
  tensor,
  trace,
} from "./tracer.js";
