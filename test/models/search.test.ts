// The layout search: never worse than a named layout, SPMD-equivalent, deterministic, honest
// about its budget; and on LLaMA-3-70B, what it finds against the named layouts.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fc, test } from "@fast-check/vitest";
import { trace } from "@shardcost/core";
import { type LlamaConfig, llamaDecode } from "@shardcost/ops";
import {
  type Candidate,
  interchangeableAxes,
  layoutKey,
  placePoint,
  type SearchResult,
  searchLayouts,
  spaceSize,
  structures,
} from "@shardcost/serving";
import { mesh } from "@shardcost/sharding";
import { assertSpmdEquivalent } from "@shardcost/sharding/testing";
import { describe, expect, it } from "vitest";
import { main } from "../../packages/cli/src/main.js";

const step = (c: Candidate | undefined) => c?.costs.totals.stepS ?? Number.POSITIVE_INFINITY;

/** Every named layout that fits and that the search's best must not lose to. */
function expectNeverWorse(r: SearchResult) {
  const best = r.best!;
  for (const p of r.presets) {
    if (!p.candidate) continue;
    if (p.candidate.costs.memory.fits) expect(best.costs.memory.fits).toBe(true);
    if (p.candidate.costs.memory.fits === best.costs.memory.fits) {
      expect(step(best)).toBeLessThanOrEqual(step(p.candidate));
    }
  }
}

async function cli(args: string[]): Promise<{ status: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const status = await main(args, {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
    isTTY: false,
  });
  return { status, out, err };
}

describe("the layout space", () => {
  it("has every structure once, and merges layouts that only swap interchangeable axes", () => {
    const m = mesh("v5e", { X: 16, Y: 16 });
    const s = { phase: "decode", batch: 256, seq: 2048 } as const;
    // Gathered axes ∅, X, Y, XY; for each, every D-axes subset and order of the rest.
    expect(structures(m, s)).toHaveLength(4 * 5);
    // Per gathered set: D-axes ∅ with two orders of XY (each: attnD, mlpD, vocabD ⊆ 2 axes: 4
    // each; Wk/Wv 2, cache 3, residual 2 → 768), X or Y alone (the other in yz: 2·2·4·12 = 192
    // each), both (yz empty: 4·12 = 48): 1,968; times 4 gathered sets.
    expect(spaceSize(m, s)).toBe(4 * (2 * 768 + 2 * 192 + 48));
    expect(interchangeableAxes(m)).toEqual([["X", "Y"]]);
    // A 4x4 v5e's axes do not wrap, a 16x16's do: X=4, Y=16 are not interchangeable.
    expect(interchangeableAxes(mesh("v5e", { X: 4, Y: 16 }))).toEqual([]);
    const c = { name: "t", layers: 4, D: 512, F: 2048, N: 16, K: 4, H: 32, V: 1024 };
    const base = structures(m, s)[0]!;
    const xy = placePoint(c, m, s, { ...base, x: ["X"], yz: ["Y"] });
    const yx = placePoint(c, m, s, { ...base, x: ["Y"], yz: ["X"] });
    expect(JSON.stringify(xy)).not.toBe(JSON.stringify(yx));
    expect(layoutKey(xy, [["X", "Y"]])).toBe(layoutKey(yx, [["X", "Y"]]));
    expect(layoutKey(xy, [])).not.toBe(layoutKey(yx, []));
  });
});

/** A small LLaMA-shaped model: quick to search, with a space too big to cost whole on 4x2. */
const SMALL: LlamaConfig = { name: "t", layers: 6, D: 512, F: 1024, N: 16, K: 4, H: 32, V: 1024 };

/** What the properties' runs covered: phases and mesh ranks (checked after them). */
const covered = new Set<string>();

describe("the search (properties)", () => {
  const configs = fc.record({
    D: fc.constantFrom(256, 512),
    F: fc.constantFrom(1024, 1536),
    K: fc.constantFrom(2, 4, 8),
    G: fc.constantFrom(1, 2, 4),
    H: fc.constantFrom(32, 64),
    V: fc.constantFrom(1000, 1024),
  });
  const shapes = fc.constantFrom<Record<string, number>>(
    { X: 2, Y: 2 },
    { X: 4, Y: 2 },
    { X: 2, Y: 2, Z: 2 },
    { X: 8 },
  );
  const steps = fc.record({
    phase: fc.constantFrom("decode" as const, "prefill" as const),
    batch: fc.constantFrom(1, 3, 8, 32),
    seq: fc.constantFrom(64, 256),
  });
  test.prop([configs, shapes, steps], { seed: 14, numRuns: 12 })(
    "the layout found is never worse than any named layout on the same step, and a second search finds the same",
    async (c, shape, s) => {
      const config: LlamaConfig = { name: "tiny", layers: 6, ...c, N: c.K * c.G };
      const m = mesh("v5e", shape);
      const query = { ...s, weights: "bf16", kv: "bf16" } as const;
      covered
        .add(s.phase)
        .add(`${m.axes.length} axes`)
        .add(s.batch === 1 ? "batch 1" : "batch > 1");
      const r = await searchLayouts(config, query, m, { budget: { evaluations: 150 } });
      expect(r.best).toBeDefined();
      expectNeverWorse(r);
      const again = await searchLayouts(config, query, m, { budget: { evaluations: 150 } });
      expect(again.best!.key).toBe(r.best!.key);
      expect(again.top.map((t) => [t.key, step(t)])).toEqual(r.top.map((t) => [t.key, step(t)]));
      expect(again.evaluated).toBe(r.evaluated);
    },
  );

  test.prop(
    [
      fc.record({
        D: fc.constantFrom(8, 16),
        F: fc.constantFrom(16, 32),
        K: fc.constantFrom(2, 4),
        G: fc.constantFrom(1, 2),
        H: fc.constantFrom(2, 4),
        V: fc.constantFrom(16, 32),
      }),
      fc.constantFrom<Record<string, number>>({ X: 2, Y: 2 }, { X: 4 }, { X: 2, Y: 4 }),
      fc.constantFrom(1, 2, 8),
    ],
    { seed: 15, numRuns: 10 },
  )(
    "the best layouts it finds are SPMD-equivalent on tiny configs (simulate = interpret)",
    async (c, shape, batch) => {
      const config: LlamaConfig = { name: "tiny", layers: 1, ...c, N: c.K * c.G };
      const m = mesh("v5e", shape);
      const query = {
        phase: "decode",
        batch,
        seq: 4,
        weights: "f32",
        kv: "f32",
        compute: "f32",
      } as const;
      const r = await searchLayouts(config, query, m, { budget: { evaluations: 80 } });
      expect(r.top.length).toBeGreaterThan(0);
      for (const cand of r.top.slice(0, 3)) {
        const model = llamaDecode(config, { ...query, layout: cand.layout });
        assertSpmdEquivalent(trace(model.fn, model.inputs, model.dims), m, { tolerance: 1e-5 });
      }
    },
  );

  it("the properties covered both phases, batch 1 and larger, and meshes of one, two and three axes", () => {
    expect([...covered].sort()).toEqual(
      ["1 axes", "2 axes", "3 axes", "batch 1", "batch > 1", "decode", "prefill"].sort(),
    );
  });

  it("with a budget it returns the best found so far and says the space was not exhausted", async () => {
    const config = SMALL;
    const m = mesh("v5e", { X: 4, Y: 2 });
    const query = { phase: "decode", batch: 8, seq: 256 } as const;
    const full = await searchLayouts(config, query, m);
    const cut = await searchLayouts(config, query, m, { budget: { evaluations: 12 } });
    expect(cut.stoppedByBudget).toBe(true);
    expect(cut.exhausted).toBe(false);
    expect(cut.evaluated).toBeLessThanOrEqual(12 + 4);
    expect(cut.best).toBeDefined();
    expectNeverWorse(cut);
    expect(step(full.best)).toBeLessThanOrEqual(step(cut.best));
    expect(full.stoppedByBudget).toBe(false);
    // No time at all: the named layouts are still costed, and the best of them returned.
    const none = await searchLayouts(config, query, m, { budget: { seconds: 0 } });
    expect(none.stoppedByBudget).toBe(true);
    expect(none.best?.preset).toBeDefined();
    expectNeverWorse(none);
  });

  it("a small space is searched exhaustively and says so", async () => {
    const config = SMALL;
    const r = await searchLayouts(
      config,
      { phase: "decode", batch: 8, seq: 256 },
      mesh("v5e", { X: 8 }),
    );
    expect(r.method).toBe("exhaustive");
    expect(r.exhausted).toBe(true);
    expect(r.stoppedByBudget).toBe(false);
  });
});

interface JsonRun {
  batch: number;
  best: { preset: string | null; stepS: number; fits: boolean; point: { gather: string[] } | null };
  presets: { name: string; stepS?: number; fits?: boolean }[];
  why: { largestCut: string | undefined } | null;
  exhausted: boolean;
}

async function searchCli(args: string[]) {
  const r = await cli(["search", "--model", "llama3-70b", "--workers", "1", "--json", ...args]);
  expect(r.err).toBe("");
  expect(r.status).toBe(0);
  return JSON.parse(r.out) as { runs: JsonRun[] };
}

const presetStep = (run: JsonRun, name: string) => run.presets.find((p) => p.name === name)!.stepS!;
const bestPresetStep = (run: JsonRun) =>
  Math.min(...run.presets.filter((p) => p.fits).map((p) => p.stepS!));

describe("LLaMA-3-70B: what the search finds (through the CLI's search command)", () => {
  it("at small batch on v5e 4x4, nothing beats 1d-ws by more than 1%: weight-stationary, no gathering", async () => {
    for (const batch of ["1", "8"]) {
      const { runs } = await searchCli(["--mesh", "v5e:4x4", "--batch", batch, "--seq", "2048"]);
      const run = runs[0]!;
      expect(run.best.fits).toBe(true);
      expect(run.best.stepS).toBeGreaterThanOrEqual(presetStep(run, "1d-ws") * 0.99);
      expect(run.best.stepS).toBeLessThanOrEqual(presetStep(run, "1d-ws"));
      expect(run.best.point?.gather ?? []).toEqual([]);
    }
  });

  it("at batch 256 on v5e 16x16 it finds 2d-ws or better", async () => {
    const { runs } = await searchCli(["--mesh", "v5e:16x16", "--batch", "256", "--seq", "2048"]);
    const run = runs[0]!;
    expect(run.best.fits).toBe(true);
    expect(run.best.stepS).toBeLessThanOrEqual(presetStep(run, "2d-ws"));
    expect(run.best.stepS).toBeLessThanOrEqual(bestPresetStep(run));
  });

  it("batch 1 prefill of 8k tokens on v5e 16x16: a layout at least 10% faster than every named one, saved and estimated again to the same step", async () => {
    const dir = mkdtempSync(join(tmpdir(), "shardcost-search-"));
    const file = join(dir, "found.json");
    const q = ["--mesh", "v5e:16x16", "--phase", "prefill", "--batch", "1", "--seq", "8192"];
    const r = await cli([
      "search",
      "--model",
      "llama3-70b",
      "--workers",
      "1",
      "--json",
      "--save",
      file,
      ...q,
    ]);
    expect(r.status).toBe(0);
    const run = (JSON.parse(r.out) as { runs: JsonRun[] }).runs[0]!;
    expect(run.best.preset).toBeNull();
    expect(run.best.stepS).toBeLessThanOrEqual(0.9 * bestPresetStep(run));
    expect(run.why?.largestCut).toBeDefined();
    expect(JSON.parse(readFileSync(file, "utf8")).format).toBe("shardcost-layout/1");
    const e = await cli(["estimate", "--model", "llama3-70b", "--layout", file, "--json", ...q]);
    expect(e.status).toBe(0);
    const report = JSON.parse(e.out) as { time: { stepS: number }; layout: { name: string } };
    expect(report.layout.name).toBe(file);
    expect(report.time.stepS).toBeCloseTo(run.best.stepS, 12);
  });

  it("on a v4 4x4x4 at batch 64 it finds a layout at least 5% faster than every named one", async () => {
    const { runs } = await searchCli(["--mesh", "v4:4x4x4", "--batch", "64", "--seq", "4096"]);
    const run = runs[0]!;
    expect(run.best.preset).toBeNull();
    expect(run.best.stepS).toBeLessThanOrEqual(0.95 * bestPresetStep(run));
  });

  it("prints the layout per role, the named layouts, why it wins and the collectives per layer", async () => {
    const q = ["--mesh", "v5e:16x16", "--phase", "prefill", "--batch", "1", "--seq", "8192"];
    const r = await cli(["search", "--model", "llama3-70b", "--workers", "1", ...q]);
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/^ {2}Wq\[D\S*, N\S*, H\S*\]/m);
    expect(r.out).toMatch(/^ {2}KV\[B\S*, S\S*, K\S*, H\S*\]/m);
    for (const name of ["1d-ws", "2d-ws", "weight-gathered", "fsdp"]) {
      expect(r.out).toMatch(new RegExp(`^${name} +\\d`, "m"));
    }
    expect(r.out).toMatch(/Why it wins \(against 2d-ws, .*\): it cuts .* the most\./);
    expect(r.out).toMatch(/Collectives per layer \(\d+; a middle layer/);
    expect(r.out).toMatch(/AllGather +X +bf16\[D, N_Y, H\] .*llama\.ts:\d+/);
  });

  it("gives the same answer on one thread and on two (the built CLI, worker threads)", () => {
    const run = (workers: string) => {
      const r = spawnSync(
        process.execPath,
        [
          "packages/cli/bin/shardcost.js",
          "search",
          "--model",
          "llama3-8b",
          "--mesh",
          "v5e:4x4",
          "--batch",
          "16",
          "--workers",
          workers,
          "--json",
        ],
        { encoding: "utf8" },
      );
      expect(r.status).toBe(0);
      const out = JSON.parse(r.stdout) as {
        workers: number;
        runs: (JsonRun & { evaluated: number })[];
      };
      expect(out.workers).toBe(Number(workers));
      return out.runs.map((x) => ({ best: x.best, presets: x.presets, evaluated: x.evaluated }));
    };
    expect(run("2")).toEqual(run("1"));
  });

  it("--objective throughput: the batch and layout with the most tokens/s per chip within the latency bound; pareto: the frontier of each batch's best", async () => {
    const q = [
      "--model",
      "llama3-8b",
      "--mesh",
      "v5e:2x4",
      "--seq",
      "1024",
      "--batch",
      "1,16,64,256",
    ];
    const t = await cli([
      "search",
      ...q,
      "--workers",
      "1",
      "--json",
      "--objective",
      "throughput",
      "--latency-ms",
      "4",
    ]);
    expect(t.status).toBe(0);
    const tj = JSON.parse(t.out) as { chosenBatch: number; runs: JsonRun[] };
    const meets = tj.runs.filter((r) => r.best.fits && r.best.stepS <= 0.004);
    expect(meets.length).toBeGreaterThan(0);
    expect(meets.length).toBeLessThan(tj.runs.length); // the bound rules some batch out
    const rate = (r: JsonRun) => r.batch / r.best.stepS;
    const chosen = tj.runs.find((r) => r.batch === tj.chosenBatch)!;
    expect(chosen.best.stepS).toBeLessThanOrEqual(0.004);
    for (const r of meets) expect(rate(chosen)).toBeGreaterThanOrEqual(rate(r));
    const p = await cli(["search", ...q, "--workers", "1", "--json", "--objective", "pareto"]);
    const pj = JSON.parse(p.out) as {
      frontier: { batch: number; stepS: number; tokensPerSPerChip: number }[];
      runs: JsonRun[];
    };
    expect(pj.frontier.length).toBeGreaterThan(1);
    for (const [i, f] of pj.frontier.entries()) {
      expect(f.stepS).toBe(pj.runs.find((r) => r.batch === f.batch)!.best.stepS);
      if (i > 0) {
        expect(f.stepS).toBeGreaterThan(pj.frontier[i - 1]!.stepS);
        expect(f.tokensPerSPerChip).toBeGreaterThan(pj.frontier[i - 1]!.tokensPerSPerChip);
      }
    }
  });

  it("split with --part K/N and merged with --merge: the best of the parts, held to the named layouts, saved and estimated again", async () => {
    const dir = mkdtempSync(join(tmpdir(), "shardcost-parts-"));
    const q = ["--model", "llama3-8b", "--mesh", "v5e:4x4", "--batch", "4", "--seq", "4096"];
    const files = [1, 2, 3].map((k) => join(dir, `part${k}.json`));
    for (const [i, f] of files.entries()) {
      const r = await cli([
        "search",
        ...q,
        "--workers",
        "1",
        "--json",
        "--part",
        `${i + 1}/3`,
        "--out",
        f,
      ]);
      expect(r.status).toBe(0);
    }
    const parts = files.map((f) => JSON.parse(readFileSync(f, "utf8")) as { runs: JsonRun[] });
    const saved = join(dir, "found.json");
    const m = await cli(["search", "--merge", files.join(","), "--json", "--save", saved]);
    expect(m.status).toBe(0);
    const merged = JSON.parse(m.out) as {
      runs: (JsonRun & { evaluated: number })[];
      merged: { complete: boolean };
    };
    expect(merged.merged.complete).toBe(true);
    const best = merged.runs[0]!.best;
    expect(best.stepS).toBe(Math.min(...parts.map((p) => p.runs[0]!.best.stepS)));
    expect(best.stepS).toBeLessThanOrEqual(bestPresetStep(merged.runs[0]!));
    expect(merged.runs[0]!.evaluated).toBe(
      parts.reduce((n, p) => n + (p.runs[0] as JsonRun & { evaluated: number }).evaluated, 0),
    );
    if (best.point) {
      const e = await cli(["estimate", ...q, "--layout", saved, "--json"]);
      expect((JSON.parse(e.out) as { time: { stepS: number } }).time.stepS).toBeCloseTo(
        best.stepS,
        12,
      );
    }
    const two = await cli(["search", "--merge", files.slice(0, 2).join(","), "--json"]);
    expect((JSON.parse(two.out) as { merged: { complete: boolean } }).merged.complete).toBe(false);
    const bad = await cli(["search", "--merge", join(dir, "nope.json")]);
    expect(bad.status).toBe(1);
    expect(bad.err).toMatch(/search --merge: cannot read .*nope\.json: ENOENT/);
  });

  it("report --search adds a section: the layout per role, every named layout, why it wins", async () => {
    const out = join(mkdtempSync(join(tmpdir(), "shardcost-report-")), "r.html");
    const q = ["--mesh", "v5e:16x16", "--phase", "prefill", "--batch", "1", "--seq", "8192"];
    const r = await cli(["report", "--model", "llama3-70b", ...q, "--search", "--out", out]);
    expect(r.status).toBe(0);
    const html = readFileSync(out, "utf8");
    expect(html).toContain("<h2>Layout search (batch 1)</h2>");
    expect(html).toMatch(/<li><code>Wq\[D\S*, N\S*, H\S*\]<\/code>/);
    for (const name of ["found", "1d-ws", "2d-ws", "weight-gathered", "fsdp"]) {
      expect(html).toContain(`<tr><td class="l">${name}</td>`);
    }
    expect(html).toContain("Step-time breakdown: found vs the best named layout");
    expect(html).toMatch(/Why it wins against 2d-ws: it cuts [a-z -]+ the most/);
  });

  it("bad flags are usage errors", async () => {
    const bad = async (args: string[], message: RegExp) => {
      const r = await cli(["search", ...args]);
      expect(r.status).toBe(2);
      expect(r.err).toMatch(message);
    };
    await bad(["--model", "llama3-70b", "--objective", "fastest"], /--objective "fastest"/);
    await bad(["--model", "llama3-70b", "--budget", "soon"], /--budget "soon": a time such as 10s/);
    await bad(["--model", "llama3-70b", "--layout", "1d-ws"], /search finds the layout/);
    await bad(["--model", "llama3-70b", "--part", "4/3"], /--part "4\/3": K\/N with 1 ≤ K ≤ N/);
    await bad(["--model", "llama3-70b", "--batch", "1,2"], /--batch takes one size/);
    await bad(
      ["examples/models/mlp-2d.ts", "--objective", "pareto"],
      /--objective applies to built-in models/,
    );
    await bad([], /search takes a built-in model .* or a model file that declares roles/);
  });
});
