// `npm run fuzz [-- MINUTES]`: the SPMD-equivalence property of
// test/sharding/programs.property.test.ts over fresh seeds until time runs out (default 2
// minutes). A counterexample is shrunk and printed as a test to paste into that file.
import {
  assertSpmdEquivalent,
  buildProgram,
  meshArb,
  programArb,
  programInputs,
  tolerance,
} from "@shardcost/sharding/testing";
import fc from "fast-check";

const minutes = Number(process.argv[2] ?? 2);
if (!(minutes > 0)) {
  console.error("usage: npm run fuzz -- MINUTES (a positive number)");
  process.exit(2);
}
const deadline = Date.now() + minutes * 60_000;
const cases = meshArb({ maxAxes: 3, maxSize: 4 }).chain((m) =>
  programArb(m, { maxSteps: 8 }).map((recipe) => ({ m, recipe })),
);
const property = fc.property(cases, ({ m, recipe }) => {
  const program = buildProgram(recipe);
  assertSpmdEquivalent(program, m, {
    arrays: programInputs(program),
    tolerance: tolerance(recipe),
  });
});

let runs = 0;
let batches = 0;
while (Date.now() < deadline) {
  const seed = (Date.now() ^ (batches * 2654435761)) >>> 0;
  const result = fc.check(property, { seed, numRuns: 1000 });
  runs += result.numRuns;
  batches++;
  if (result.failed) {
    const { m, recipe } = result.counterexample[0];
    const shape = Object.fromEntries(m.axes.map((a) => [a.name, a.size]));
    console.log(`counterexample after ${runs} runs (seed ${seed}, shrunk ${result.numShrinks}×):`);
    console.log(String(result.errorInstance?.message ?? result.error).split("\n")[0]);
    console.log(`
it("fuzz seed ${seed}: lowered program equals the unsharded one", () => {
  const m = mesh("v5e", ${JSON.stringify(shape)});
  const recipe: ProgramRecipe = ${JSON.stringify(recipe)};
  const program = buildProgram(recipe);
  assertSpmdEquivalent(program, m, {
    arrays: programInputs(program),
    tolerance: tolerance(recipe),
  });
});`);
    process.exit(1);
  }
}
console.log(JSON.stringify({ runs, seeds: batches, minutes, counterexamples: 0 }));
