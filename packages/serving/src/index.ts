/**
 * The named layouts as typed data, the serving analyses of the book's inference chapters, and
 * the periodic-layer engine that sweeps thousands of configurations.
 *
 * @module @shardcost/serving
 */
export {
  criticalBatch,
  type FrontierPoint,
  idealStep,
  kvBytesPerToken,
  kvTokensEvictedPerStep,
  latencyThroughputSweep,
  type MlpStudyRow,
  maxBatch,
  mlpLayoutStudy,
  paretoFrontier,
  prefillTimeAtMfu,
  prefillToDecodeRatio,
  qpsPerChip,
  type ServeOptions,
  STUDY_SHAPES,
  type StepReport,
  type StepTime,
  type SweepPoint,
  shardedStep,
  smallestSlice,
  V5E_SLICES,
} from "./analysis.js";
export { StepEstimator } from "./engine.js";
export type { Axis, ResolvedLayout, StepShape } from "./layouts/axes.js";
export {
  type BaseLayoutName,
  isLayoutName,
  LAYOUTS,
  type LayoutName,
  type LayoutPreset,
  layoutPreset,
  resolveLayout,
} from "./layouts/presets.js";
export {
  compileStepPeriodic,
  extrapolateGroups,
  extrapolateLayers,
  type PeriodicStep,
  type StepCosts,
} from "./periodic.js";
export { type WorkerEvaluator, workerEvaluator } from "./search/pool.js";
export {
  type RoleCandidate,
  type RoleModel,
  type RoleSearchResult,
  roleShardings,
  searchRoles,
} from "./search/roles.js";
export {
  type Candidate,
  compareCandidates,
  type Evaluator,
  evaluateOne,
  localEvaluator,
  type SearchBudget,
  type SearchOptions,
  type SearchResult,
  searchLayouts,
} from "./search/search.js";
export {
  type CacheChoice,
  CHOICE_DIMS,
  type ChoiceDim,
  choiceValues,
  interchangeableAxes,
  type LayoutPoint,
  layoutKey,
  placePoint,
  presetPoints,
  printedRoles,
  type ResidualChoice,
  roleNotation,
  type SearchStep,
  spaceSize,
  structures,
} from "./search/space.js";
export { type CompiledStep, compileStep, type StepQuery } from "./step.js";
