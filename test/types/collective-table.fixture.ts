// Type-level fixture, checked by `npm run typecheck` (tsconfig.test.json): a collective table
// must name every collective. `collective-tables.test.ts` shows the same for the real tables.
import { type CollectiveTable, Primitive } from "@shardcost/core";

export const complete: CollectiveTable<number> = {
  [Primitive.AllGather]: 1,
  [Primitive.ReduceScatter]: 1,
  [Primitive.AllReduce]: 2,
  [Primitive.AllToAll]: 1,
};

// @ts-expect-error: AllToAll has no entry
export const missing: CollectiveTable<number> = {
  [Primitive.AllGather]: 1,
  [Primitive.ReduceScatter]: 1,
  [Primitive.AllReduce]: 2,
};
