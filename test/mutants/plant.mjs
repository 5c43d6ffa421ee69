// `npm run mutants [-- REGEX]`: plants each mutant below (or those whose name matches) in the sources one at a time, rebuilds, runs the
// tests that guard sharding rules, collective costs and the chip catalog, and reports whether a
// test failed (the mutant is killed) or all passed (it survived). The sources are restored after
// each one, and rebuilt at the end. Exit 1 if any mutant survives or no longer applies.
//
// The first ten are the review's survivors (sharding rules that gave wrong numbers with every
// test green, a wasteful attention layout, GPU collective timing, liveness, fusion, the chip
// catalog); the rest are small bugs of the same kinds in the same files.
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "../..");
const RULES = "packages/sharding/src/rules.ts";
const COST = "packages/sharding/src/collective-cost.ts";

/** [name, file, text to find (exactly once), replacement] */
const MUTANTS = [
  // The review's ten survivors.
  [
    "div keeps a partial-sum denominator",
    RULES,
    "(eqn.primitive === Primitive.Div && partialIdx === 0 && othersFull)",
    "(eqn.primitive === Primitive.Div && othersFull)",
  ],
  [
    "max of two equally partial sums stays partial",
    RULES,
    "(eqn.primitive === Primitive.Mul && othersFull) ||",
    "(eqn.primitive === Primitive.Mul && othersFull) ||\n      (eqn.primitive === Primitive.Max && allVarsSame) ||",
  ],
  [
    "exp of a partial sum stays partial",
    RULES,
    "[Primitive.Exp]: nonlinearRule,",
    "[Primitive.Exp]: linearRule as never,",
  ],
  [
    "dynamic_slice drops partial sums",
    RULES,
    "results: [target(result, x!.partial)],",
    "results: [target(result)],",
  ],
  [
    "flash attention gathers the KV cache instead of slicing q",
    RULES,
    "pickFrom((dim) => kAxes.get(dim) ?? NONE);\n    pickFrom((dim) => qAxes.get(dim) ?? NONE);",
    "pickFrom((dim) => qAxes.get(dim) ?? NONE);\n    pickFrom((dim) => kAxes.get(dim) ?? NONE);",
  ],
  [
    "a GPU collective over NVLink and the network timed at the fast link",
    COST,
    "(across > 0 ? across / slowest(net) : 0)",
    "(across > 0 ? across / slowest(local.length > 0 ? local : net) : 0)",
  ],
  [
    "per-axis bytes double-counted on GPU axes",
    COST,
    "[a.name, (1 - across) / local.length]",
    "[a.name, 1 - across]",
  ],
  [
    "liveness frees program outputs early",
    "packages/core/src/graph.ts",
    "last.set(v, g.isOutput[v] ? order.length : max);",
    "last.set(v, max);",
  ],
  [
    "shard_slice no longer fuses",
    "packages/core/src/primitives.ts",
    '[Primitive.ShardSlice]: "elementwise",',
    '[Primitive.ShardSlice]: "collective",',
  ],
  [
    "H200 HBM bandwidth changed",
    "packages/core/src/hardware.ts",
    "hbmBytes: 141e9,\n    hbmBandwidth: 4.8e12,",
    "hbmBytes: 141e9,\n    hbmBandwidth: 4.9e12,",
  ],
  // Sharding rules.
  [
    "a product of two partial sums stays partial",
    RULES,
    "(eqn.primitive === Primitive.Mul && othersFull) ||",
    "eqn.primitive === Primitive.Mul ||",
  ],
  [
    "a sum of differently partial operands stays partial",
    RULES,
    "(eqn.primitive === Primitive.Add || eqn.primitive === Primitive.Sub) && allVarsSame",
    "eqn.primitive === Primitive.Add || eqn.primitive === Primitive.Sub",
  ],
  [
    "a sum over a split dim forgets its partial sums",
    RULES,
    "results: [target(out, [...x!.partial, ...reduced])],",
    "results: [target(out, [...x!.partial])],",
  ],
  [
    "gather's masked rows are not partial sums",
    RULES,
    "results: [target(out, vocab)] };",
    "results: [target(out)] };",
  ],
  [
    "tanh of a partial sum stays partial",
    RULES,
    "[Primitive.Tanh]: nonlinearRule,",
    "[Primitive.Tanh]: linearRule as never,",
  ],
  [
    "log of a partial sum stays partial",
    RULES,
    "[Primitive.Log]: nonlinearRule,",
    "[Primitive.Log]: linearRule as never,",
  ],
  [
    "a cast of a partial sum stays partial",
    RULES,
    "[Primitive.Cast]: nonlinearRule,",
    "[Primitive.Cast]: linearRule as never,",
  ],
  [
    "merge drops partial sums",
    RULES,
    "return { operands: [t], results: [target(out, x!.partial)] };",
    "return { operands: [t], results: [target(out)] };",
  ],
  [
    "flash attention's split key dim is not combined",
    RULES,
    "return { operands: [tq, kv(k!), kv(v!)], results: [tq], combine: keyAxes };",
    "return { operands: [tq, kv(k!), kv(v!)], results: [tq] };",
  ],
  [
    "flash attention splits the head dim",
    RULES,
    "if (d.dim === head || chosen.has(d.dim)) continue;",
    "if (chosen.has(d.dim)) continue;",
  ],
  // Collective costs.
  [
    "AllGather counts its own block",
    COST,
    "      return (n - 1) * inBytes;",
    "      return n * inBytes;",
  ],
  [
    "ReduceScatter counts input blocks",
    COST,
    "      return (n - 1) * outBytes;",
    "      return (n - 1) * inBytes;",
  ],
  [
    "AllReduce sends half",
    COST,
    "      return (2 * (n - 1) * inBytes) / n;",
    "      return ((n - 1) * inBytes) / n;",
  ],
  [
    "AllToAll sends everything",
    COST,
    "      return ((n - 1) * inBytes) / n;",
    "      return (n - 1) * inBytes;",
  ],
  [
    "AllToAll costed at the bytes a chip injects, a quarter of an AllGather's rate",
    COST,
    "const perByte = Math.floor((a.size * a.size) / 4) / a.size / w;",
    "const perByte = (n - 1) / n / (4 * w);",
  ],
  [
    "AllToAll on a line as fast as on a ring",
    COST,
    'return a.link === "ici" && a.wraps ? 2 * a.bandwidth : a.bandwidth;\n}',
    'return a.link === "ici" ? 2 * a.bandwidth : a.bandwidth;\n}',
  ],
  [
    "wraparound does not double a ring's bandwidth",
    COST,
    'return a.link === "ici" && a.wraps ? 2 * a.bandwidth : a.bandwidth;',
    "return a.bandwidth;",
  ],
  [
    "AllReduce takes the hops of one ring",
    COST,
    "primitive === Primitive.AllReduce ? 2 * ring : ring",
    "ring",
  ],
  [
    "a ring with wraparound takes n−1 hops",
    COST,
    "(a.wraps ? Math.floor(a.size / 2) : a.size - 1)",
    "(a.size - 1)",
  ],
  [
    "folded axes do not share their torus dimension",
    COST,
    "links.set(p, Math.max(links.get(p) ?? 0, effectiveBandwidth(a)));",
    "links.set(p, (links.get(p) ?? 0) + effectiveBandwidth(a));",
  ],
  [
    "a GPU AllToAll crosses the network like an AllGather",
    COST,
    "(primitive === Primitive.AllToAll ? n - nLocal : nNet - 1)",
    "(nNet - 1)",
  ],
  [
    "collectives are never latency-bound",
    COST,
    "timeS: Math.max(bytes * l.secondsPerByte, l.latencyS)",
    "timeS: bytes * l.secondsPerByte",
  ],
  // Chip catalog and core costs.
  [
    "v5e HBM bandwidth changed",
    "packages/core/src/hardware.ts",
    "hbmBytes: 16e9,\n    hbmBandwidth: 8.2e11,",
    "hbmBytes: 16e9,\n    hbmBandwidth: 8.1e11,",
  ],
  [
    "v5e ICI link bandwidth changed",
    "packages/core/src/hardware.ts",
    "hbmBandwidth: 8.2e11,\n    linkBandwidth: 4.5e10,",
    "hbmBandwidth: 8.2e11,\n    linkBandwidth: 9e10,",
  ],
  [
    "H200 NVLink bandwidth changed",
    "packages/core/src/hardware.ts",
    "hbmBandwidth: 4.8e12,\n    linkBandwidth: 4.5e11,",
    "hbmBandwidth: 4.8e12,\n    linkBandwidth: 9e11,",
  ],
  [
    "dynamic slices no longer fuse",
    "packages/core/src/primitives.ts",
    '[Primitive.DynamicSlice]: "elementwise",',
    '[Primitive.DynamicSlice]: "kernel",',
  ],
];

/** The tests that guard these files (the CLI's end-to-end suites add minutes, not kills). */
const TESTS = [
  "test/sharding",
  "test/models",
  "test/cost.test.ts",
  "test/seeds.test.ts",
  "test/primitives.test.ts",
  "test/graph.test.ts",
  "test/study.test.ts",
  "test/hardware.test.ts",
  "test/sharding/link-oracle.test.ts",
];

const only = process.argv[2];
// Interrupted, the file being mutated is put back.
let restore = () => {};
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    restore();
    process.exit(130);
  });
}
const build = () => execFileSync("npx", ["tsc", "-b"], { cwd: ROOT, stdio: "pipe" });
const results = [];
for (const [name, file, find, replace] of MUTANTS) {
  if (only && !new RegExp(only).test(name)) continue;
  const path = join(ROOT, file);
  const original = readFileSync(path, "utf8");
  const count = original.split(find).length - 1;
  if (count !== 1) {
    results.push({ name, file, result: `stale (found ${count}×)` });
    continue;
  }
  const started = Date.now();
  restore = () => writeFileSync(path, original);
  try {
    writeFileSync(path, original.replace(find, replace));
    let result;
    try {
      build();
      const run = spawnSync("npx", ["vitest", "run", "--bail", "1", ...TESTS], {
        cwd: ROOT,
        encoding: "utf8",
      });
      const failed = /(\d+) failed/.exec(run.stdout)?.[0];
      result = run.status === 0 ? "SURVIVED" : `killed (${failed ?? "a test failed"})`;
    } catch {
      result = "INVALID (does not compile)";
    }
    results.push({ name, file, result, s: Math.round((Date.now() - started) / 1000) });
  } finally {
    writeFileSync(path, original);
  }
  console.log(JSON.stringify(results.at(-1)));
}
build();
const bad = results.filter((r) => !r.result.startsWith("killed"));
const killed = results.length - bad.length;
console.log(
  JSON.stringify({
    mutants: results.length,
    killed,
    score: `${((100 * killed) / results.length).toFixed(1)}%`,
  }),
);
process.exitCode = bad.length > 0 ? 1 : 0;
