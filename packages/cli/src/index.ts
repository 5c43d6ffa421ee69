/**
 * The `shardcost` command: model files, estimate, sweep, compare, explain, report, trace and plan.
 *
 * @module @shardcost/cli
 */
export { dimFlags, dtypeList, intList, UsageError } from "./args.js";
export { type Io, main } from "./main.js";
export type { CollectiveRow, JsonReport, OpRow } from "./report.js";
export { parseMesh } from "./setup.js";
export {
  type FileSweepRow,
  markPareto,
  progressBar,
  runSweep,
  type SweepGrid,
  type SweepRow,
} from "./sweep.js";
