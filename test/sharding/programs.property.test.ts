/**
 * SPMD equivalence over the whole traceable primitive set: random programs (`programArb`) on
 * random meshes, each op meeting sharded operands and partial sums `{U_…}` (both operands of a
 * binary op partial too), executed on every simulated device and compared with the unsharded
 * program. The coverage test below fails if the generator stops reaching any primitive ×
 * {sharded, partial-sum} combination, any collective, any cast dtype or any binary op on two
 * partial sums. `npm run fuzz` runs the same property over many seeds.
 */
import { test } from "@fast-check/vitest";
import { isCollective, PRIMITIVES, Primitive } from "@shardcost/core";
import {
  assertSpmdEquivalent,
  buildProgram,
  meshArb,
  operandKinds,
  PROGRAM_PRIMITIVES,
  type ProgramRecipe,
  programArb,
  programInputs,
  tolerance,
} from "@shardcost/sharding/testing";
import { describe, expect, it } from "vitest";

const SEED = 20261204;
const RUNS = 1500;
const cases = meshArb({ maxAxes: 3, maxSize: 3 }).chain((m) =>
  programArb(m).map((recipe) => ({ m, recipe })),
);

const seen = new Set<string>();
const collectives = new Set<Primitive>();
const casts = new Set<string>();
const twoPartials = new Set<string>();
let runs = 0;

function tally(recipe: ProgramRecipe, lowered: import("@shardcost/core").Program) {
  runs++;
  for (const { primitive, kinds } of operandKinds(lowered)) {
    if (kinds.sharded) seen.add(`${primitive} sharded`);
    if (kinds.partial) seen.add(`${primitive} partial`);
  }
  for (const e of lowered.eqns) {
    if (isCollective(e.primitive) || e.primitive === Primitive.ShardSlice) {
      collectives.add(e.primitive);
    }
  }
  for (const s of recipe.steps) {
    if (s.op === "cast") casts.add(s.dtype);
    if (s.op === "binary" && s.yPartial) twoPartials.add(s.fn);
  }
}

describe("every primitive, sharded and partial: lowered programs compute the unsharded result", () => {
  test.prop([cases], { seed: SEED, numRuns: RUNS })(
    "simulate equals interpret (within `tolerance(recipe)`), bytes moved = modelled",
    ({ m, recipe }) => {
      const program = buildProgram(recipe);
      const check = assertSpmdEquivalent(program, m, {
        arrays: programInputs(program),
        tolerance: tolerance(recipe),
      });
      tally(recipe, check.lowered);
    },
  );

  it("covers every primitive × {sharded, partial sum}, every collective, cast and two-partial op", () => {
    expect(runs).toBe(RUNS);
    // Every primitive a model can trace is generated: all but those only lowering inserts.
    const untraced = PRIMITIVES.filter(
      (p) => !PROGRAM_PRIMITIVES.includes(p) && !isCollective(p) && p !== Primitive.ShardSlice,
    );
    expect(untraced).toEqual([]);
    const missing = PROGRAM_PRIMITIVES.flatMap((p) =>
      [`${p} sharded`, `${p} partial`].filter((k) => !seen.has(k)),
    );
    expect(missing).toEqual([]);
    expect([...collectives].sort()).toEqual(
      [
        Primitive.AllGather,
        Primitive.AllReduce,
        Primitive.AllToAll,
        Primitive.ReduceScatter,
        Primitive.ShardSlice,
      ].sort(),
    );
    expect([...casts].sort()).toEqual(["bf16", "f16", "f32"]);
    expect([...twoPartials].sort()).toEqual(["add", "div", "max", "mul", "sub"]);
  });
});
