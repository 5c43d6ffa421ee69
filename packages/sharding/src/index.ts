/**
 * Meshes, per-primitive sharding rules, the lowering pass that inserts collectives, their cost on the interconnect, the SPMD simulator, and `compile`: the one pipeline from a model to a per-chip estimate.
 *
 * @module @shardcost/sharding
 */
export {
  type CollectiveRule,
  collectiveCost,
  collectiveRules,
  estimateSpmd,
} from "./collective-cost.js";
export {
  Compiled,
  type CompileOptions,
  compile,
  PASSES,
  type PassName,
  type StorageChange,
  type StoredAt,
  type Traceable,
  type TracedSource,
} from "./compile.js";
export { lower, ShardingError } from "./lower.js";
export {
  type LinkKind,
  type Mesh,
  type MeshAxis,
  mesh,
  parseMeshShape,
  printMesh,
} from "./mesh.js";
export { type SimulatedCollective, type Simulation, simulate } from "./simulate.js";
export { groupSize, localSizes } from "./sizes.js";
