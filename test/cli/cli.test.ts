// End to end: the `shardcost` bin run as a subprocess, every command and every error class.
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LLAMA3_8B } from "@shardcost/ops";
import { shardedStep } from "@shardcost/serving";
import { mesh } from "@shardcost/sharding";
import { describe, expect, it } from "vitest";
import { expectNoStackTrace, ROOT, scratch, shardcost } from "./run.js";

const MODEL_FILE = "examples/models/mlp-2d.ts";
const modelLines = readFileSync(join(ROOT, MODEL_FILE), "utf8").split("\n");
const lineOf = (needle: string) => modelLines.findIndex((l) => l.includes(needle)) + 1;

const BUILTIN_8B = ["--model", "llama3-8b", "--batch", "16", "--seq", "2048", "--weights", "int8"];

describe("efficiency knobs", () => {
  const args = ["estimate", "--model", "llama3-8b", "--mesh", "v5e:2x2", "--batch", "64", "--json"];
  it("--mfu, --hbm-efficiency, --ici-efficiency scale compute, HBM and link time, and are echoed", () => {
    const peak = JSON.parse(shardcost(args).stdout);
    const r = shardcost([
      ...args,
      "--mfu",
      "0.5",
      "--hbm-efficiency",
      "0.8",
      "--ici-efficiency",
      "0.25",
    ]);
    expect(r.status).toBe(0);
    const derated = JSON.parse(r.stdout);
    expect(derated.assumptions).toEqual({ mfu: 0.5, hbm: 0.8, ici: 0.25 });
    // The same bytes and FLOPs, moved and computed more slowly.
    expect(derated.perChip).toEqual(peak.perChip);
    expect(derated.time.computeS).toBeCloseTo(peak.time.computeS / 0.5, 12);
    expect(derated.time.hbmS).toBeCloseTo(peak.time.hbmS / 0.8, 12);
    // Collective time: bandwidth-bound ones 4× slower; latency-bound ones no slower.
    expect(derated.time.iciS).toBeGreaterThan(peak.time.iciS);
    expect(derated.time.iciS).toBeLessThanOrEqual((peak.time.iciS / 0.25) * (1 + 1e-12));
    const text = shardcost(args.filter((a) => a !== "--json").concat("--mfu", "0.5"));
    expect(text.stdout).toContain(
      "Roofline at 50% of peak FLOP/s, 100% of HBM and 100% of link bandwidth",
    );
  });
  it.each(["0", "1.5", "-0.2", "half"])("--mfu %s is a usage error", (v) => {
    const r = shardcost([...args, `--mfu=${v}`]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`--mfu "${v}": a fraction of peak in (0, 1]`);
  });
});

describe("the op table", () => {
  const seconds = (text: string) => {
    const m = /([\d.]+) (ns|µs|ms|s)$/.exec(text.trim());
    if (!m) throw new Error(`not a time: ${text}`);
    return Number(m[1]) * { ns: 1e-9, µs: 1e-6, ms: 1e-3, s: 1 }[m[2] as "ns"];
  };
  /** The time column of each op row (between the header rule and the summary rows). */
  const times = (out: string) =>
    out
      .split("\n")
      .filter((l) => /^\s+×\d+\s/.test(l))
      .map((l) => seconds(/([\d.]+ (?:ns|µs|ms|s))\s+\S+$/.exec(l)![1]!));
  it("shows the N slowest kernels (in program order) and says what its notation means", () => {
    const args = ["estimate", "--model", "llama3-8b", "--mesh", "v5e:4x4", "--batch", "64"];
    const top3 = shardcost([...args, "--top", "3"]);
    const all = shardcost([...args, "--top", "1000"]);
    expect(top3.stdout).toContain("the 3 slowest, in program order");
    expect(top3.stdout).toContain("+N ops fused into the kernel");
    expect(top3.stdout).toContain("{U_X}: partial sums over X, not yet reduced");
    const shown = times(top3.stdout);
    const every = times(all.stdout).sort((a, b) => b - a);
    expect(shown).toHaveLength(3);
    expect([...shown].sort((a, b) => b - a)).toEqual(every.slice(0, 3));
  });
});

describe("shardcost estimate", () => {
  it("prints the per-op table, collectives, memory verdict and totals of a built-in model", () => {
    const r = shardcost(["estimate", ...BUILTIN_8B, "--mesh", "v5e:2x2", "--layout", "1d-ws"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("llama3-8b decode · batch 16 · KV cache 2048 · weights int8");
    expect(r.stdout).toContain("TPU v5e X=2 Y=2 (4 chips) · layout 1d-ws");
    expect(r.stdout).toMatch(/einsum\[BD,DF->BF\].*@shardcost\/ops\/src\/models\/llama\.ts:\d+/);
    expect(r.stdout).toMatch(/Collectives per chip:\nkind/);
    expect(r.stdout).toMatch(/total .* of 16\.0 GB HBM — fits/);
    expect(r.stdout).toMatch(/tokens\/s\/chip/);
  });

  it("--json is the documented report, equal to the library's numbers and byte-identical run to run", () => {
    const args = ["estimate", ...BUILTIN_8B, "--mesh", "v5e:2x2", "--layout", "2d-ws", "--json"];
    const first = shardcost(args);
    expect(first.status).toBe(0);
    expect(shardcost(args).stdout).toBe(first.stdout);
    const report = JSON.parse(first.stdout);
    expect(Object.keys(report)).toEqual([
      "model",
      "phase",
      "mesh",
      "layout",
      "dims",
      "perChip",
      "memory",
      "time",
      "throughput",
      "assumptions",
      "collectives",
      "ops",
    ]);
    expect(report.assumptions).toEqual({ mfu: 1, hbm: 1, ici: 1 });
    expect(report.mesh).toEqual({ chip: "v5e", axes: { X: 2, Y: 2 }, chips: 4 });
    expect(Object.keys(report.memory)).toEqual([
      "paramBytes",
      "kvCacheBytes",
      "activationBytes",
      "totalBytes",
      "capacityBytes",
      "fits",
    ]);
    expect(["compute", "hbm", "ici"]).toContain(report.time.bound);
    const m = mesh("v5e", { X: 2, Y: 2 });
    const lib = shardedStep(LLAMA3_8B, { batch: 16, seq: 2048, weights: "int8" }, "2d-ws", m);
    // The CLI extrapolates the 32 layers from two and three; the library traced all of them.
    const rel = (a: number, b: number) => Math.abs(a - b) / b;
    expect(rel(report.time.serialS, lib.estimate.totals.serialS)).toBeLessThan(1e-12);
    expect(rel(report.perChip.iciBytes, lib.estimate.totals.iciBytes)).toBeLessThan(1e-12);
    expect(rel(report.memory.totalBytes, lib.estimate.memory.totalBytes)).toBeLessThan(1e-12);
    // The headline step overlaps collectives with kernels; tokens/s come from it.
    expect(report.time.stepS).toBe(report.time.overlappedS);
    expect(report.time.stepS).toBeLessThanOrEqual(report.time.serialS);
    expect(report.throughput.tokensPerSPerChip).toBeCloseTo(16 / lib.time.overlappedS / 4, 9);
    expect(lib.tokensPerSPerChip).toBeCloseTo(16 / lib.time.overlappedS / 4, 9);
    // Collectives and op rows add up to the totals.
    const sum = (xs: { timeS: number }[]) => xs.reduce((a, x) => a + x.timeS, 0);
    expect(sum(report.ops)).toBeCloseTo(report.time.serialS, 12);
    expect(sum(report.collectives)).toBeCloseTo(report.time.iciS, 12);
    for (const c of report.collectives) {
      expect(["AllGather", "ReduceScatter", "AllReduce", "AllToAll"]).toContain(c.kind);
      expect(c.axes).toMatch(/^[XY]+$/);
    }
  });

  it("estimates a user's model file, with rows pointing at its lines", () => {
    const r = shardcost(["estimate", MODEL_FILE, "--mesh", "v5e:2x4x4", "--json"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    const gate = lineOf('einsum("BD,DF->BF", x, t.gate)');
    const down = lineOf('einsum("BF,FD->BD"');
    expect(report.ops.map((o: { source: string }) => o.source)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(new RegExp(`mlp-2d\\.ts:${gate}$`)),
        expect.stringMatching(new RegExp(`mlp-2d\\.ts:${down}$`)),
      ]),
    );
    // 2D weight-stationary: gather over YZ, reduce over X, reduce-scatter over YZ.
    const kinds = report.collectives.map(
      (c: { kind: string; axes: string }) => `${c.kind}_${c.axes}`,
    );
    expect(kinds.sort()).toEqual(["AllGather_YZ", "AllReduce_X", "ReduceScatter_YZ"]);
    // --dim changes a size.
    const big = JSON.parse(
      shardcost(["estimate", MODEL_FILE, "--mesh", "v5e:2x4x4", "--dim", "B=512", "--json"]).stdout,
    );
    expect(big.dims.B).toBe(512);
    expect(big.perChip.flops).toBeCloseTo(2 * report.perChip.flops, 0);
  });

  it.each(["./layers", "./layers.js", "./layers.ts"])(
    "a model file may import its own modules (%s), and rows point into them",
    (spec) => {
      const dir = scratch({
        "layers.ts":
          'import type { Tracer } from "@shardcost/core";\nimport { einsum } from "@shardcost/ops";\n\nexport const up = (x: Tracer, w: Tracer) => einsum("BD,DF->BF", x, w);\n',
        "model.ts": `import { type Tracer, tensor } from "@shardcost/core";\nimport { up } from "${spec}";\n\nexport const dims = { B: 8, D: 16, F: 32 };\nexport const inputs = { x: tensor("x[B, D]"), w: tensor("w[D, F_X]", "bf16", "param") };\nexport default (t: { x: Tracer; w: Tracer }) => ({ y: up(t.x, t.w) });\n`,
      });
      const r = shardcost(["estimate", join(dir, "model.ts"), "--mesh", "v5e:2", "--json"]);
      expect(r.stderr).toBe("");
      const report = JSON.parse(r.stdout);
      expect(report.ops[0].source).toMatch(/layers\.ts:4$/);
      expect(report.memory.paramBytes).toBe((16 * 32 * 2) / 2);
    },
  );

  it("--dim resizes a built-in model (here a wider MLP and 4 layers)", () => {
    const args = ["estimate", "--model", "llama3-8b", "--mesh", "v5e:2x2", "--json"];
    const base = JSON.parse(shardcost([...args, "--dim", "L=4"]).stdout);
    const wide = JSON.parse(shardcost([...args, "--dim", "L=4", "--dim", "F=28672"]).stdout);
    expect(wide.dims.F).toBe(28672);
    // Each layer's three MLP matrices grow by 3·D·ΔF weights (bf16, split over 4 chips).
    const grown = (4 * 3 * 4096 * (28672 - 14336) * 2) / 4;
    expect(wide.memory.paramBytes - base.memory.paramBytes).toBe(grown);
  });

  it("a model too big for its mesh is a verdict, not an error", () => {
    const r = shardcost([
      "estimate",
      "--model",
      "llama3-70b",
      "--batch",
      "32",
      "--seq",
      "8192",
      "--weights",
      "int8",
    ]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/DOES NOT FIT: .* over \(\d+\.\d× the HBM of one TPU v5e\)/);
  });
});

describe("errors: model errors exit 1 with the message and line, usage errors exit 2", () => {
  const model = (body: string) =>
    `import { tensor, type Tracer } from "@shardcost/core";\nimport { einsum } from "@shardcost/ops";\n${body}`;

  it("a type error in the model file is reported as file:line:col before anything runs", () => {
    const dir = scratch({
      "bad.ts": model(
        'export const dims = { B: 8, D: 16 };\nexport const inputs = { x: tensor("x[B, D]") };\nexport default function f(t: { x: Tracer }) {\n  const n: number = "eight";\n  return { y: t.x };\n}\n',
      ),
    });
    const r = shardcost(["estimate", join(dir, "bad.ts")]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/bad\.ts:6:9 Type 'string' is not assignable to type 'number'/);
    expectNoStackTrace(r.stderr);
  });

  it("bad notation names the tensor and the model file's line", () => {
    const dir = scratch({
      "notation.ts": model(
        'export const dims = { B: 8, D: 16 };\nexport const inputs = { x: tensor("x[B, D_X]") };\nexport default function f(t: { x: Tracer }) {\n  return { y: einsum("BD,DE->BE", t.x, t.x) };\n}\n',
      ),
    });
    const r = shardcost(["estimate", join(dir, "notation.ts"), "--mesh", "v5e:2x2"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^shardcost: error\[einsum\]: /);
    expect(r.stderr).toMatch(
      /operands: x:bf16\[B, D_X\], x:bf16\[B, D_X\]\n {2}at .*notation\.ts:6\n$/,
    );
    expectNoStackTrace(r.stderr);
  });

  it.each([
    ['tensor("x[B, Q]")', /error\[unknown-dim\]: .*"x\[B, Q\]": input x: dim Q has no size/],
    ['tensor("x[B_X, D_X]")', /error\[notation\]: .*mesh axis X is used twice/],
    ['tensor("x[B, D_W]")', /error\[sharding\]: input x bf16\[B, D_W\]: the mesh has no axis W/],
    ['tensor("x[B, D")', /error\[notation\]: bad sharding notation "x\[B, D"/],
  ])("a bad input declaration %s names the line that declared it", (decl, message) => {
    const dir = scratch({
      "inputs.ts": model(
        `export const dims = { B: 8, D: 16, F: 32 };\nexport const inputs = { x: ${decl}, w: tensor("w[D, F]") };\nexport default function f(t: { x: Tracer; w: Tracer }) {\n  return { y: einsum("BD,DF->BF", t.x, t.w) };\n}\n`,
      ),
    });
    const r = shardcost(["estimate", join(dir, "inputs.ts"), "--mesh", "v5e:2x2"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/\n {2}at .*inputs\.ts:4\n$/);
    expectNoStackTrace(r.stderr);
  });

  it("a dim its axes do not divide names the dim, the axes and how to fix it", () => {
    const r = shardcost(["estimate", MODEL_FILE, "--mesh", "v5e:2x4x4", "--dim", "D=8190"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/error\[sharding\]: .*D=8190 is not divisible/);
    expectNoStackTrace(r.stderr);
  });

  it("an exception thrown by the user's code shows their line, not a stack trace", () => {
    const dir = scratch({
      "throws.ts": model(
        'export const dims = { B: 8, D: 16 };\nexport const inputs = { x: tensor("x[B, D]") };\nexport default function f(t: { x: Tracer }) {\n  throw new Error("not yet written");\n}\n',
      ),
    });
    const r = shardcost(["estimate", join(dir, "throws.ts")]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/Error: not yet written\n {2}at .*throws\.ts:6\n$/);
  });

  it.each([
    [["estimate", "missing.ts"], /error\[input\]: model file missing\.ts not found/],
    [
      ["trace", MODEL_FILE, "--mesh", "v5e:2x4x4", "--out", "/nonexistent/dir/t.json"],
      /error\[input\]: cannot write \/nonexistent\/dir\/t\.json: no such directory/,
    ],
    [
      ["estimate", "--model", "nothere/config.json"],
      /error\[input\]: config file nothere\/config\.json not found/,
    ],
    [
      ["estimate", "--model", "llama3-8b", "--dim", "N=30"],
      /error\[dim-size\]: .*N=30 query heads are not a multiple of K=8/,
    ],
    [
      ["estimate", "--model", "llama3-8b", "--mesh", "v5e:3", "--layout", "2d-ws"],
      /error\[sharding\]: layout 2d-ws cannot apply .*weight wq has no dim that any mesh axis divides/,
    ],
  ])("model error %j", (args, message) => {
    const r = shardcost(args);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(message);
    expectNoStackTrace(r.stderr);
  });

  it("a broken config.json names the file and the field", () => {
    const dir = scratch({ "config.json": '{ "model_type": "llama", "hidden_size": 4096 }' });
    const r = shardcost(["estimate", "--model", join(dir, "config.json")]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/config\.json: missing field "intermediate_size"/);
    const unknown = scratch({ "config.json": '{ "hidden_size": 4096 }' });
    const u = shardcost(["estimate", "--model", join(unknown, "config.json")]);
    expect(u.status).toBe(1);
    expect(u.stderr).toMatch(/no "architectures" or "model_type" says what model this is/);
    const garbled = scratch({ "config.json": "{ hidden_size: " });
    const g = shardcost(["estimate", "--model", join(garbled, "config.json")]);
    expect(g.status).toBe(1);
    expect(g.stderr).toMatch(/config\.json/);
    expectNoStackTrace(g.stderr);
  });

  it.each([
    [["estimate", "--model", "llama3-8b", "--bogus"], /Unknown option '--bogus'/],
    [
      ["estimate", "--model", "llama3-8b", "--batch", "many"],
      /--batch "many": expected a positive integer/,
    ],
    [
      ["estimate", "--model", "llama3-8b", "--batch=-4"],
      /--batch "-4": expected a positive integer/,
    ],
    [
      ["estimate", "--model", "llama3-8b", "--batch", "0"],
      /--batch "0": expected a positive integer/,
    ],
    [
      ["estimate", "--model", "llama3-8b", "--mesh", "v5e:4y4"],
      /--mesh "v5e:4y4": write CHIP:AxBxC/,
    ],
    [["estimate", "--model", "llama3-8b", "--weights", "int7"], /--weights "int7": dtypes are/],
    [["estimate", "--model", "llama3-8b", "--mesh", "tpu9:4x4"], /unknown chip "tpu9"/],
    [["estimate", "--model", "llama-9"], /--model "llama-9": one of llama3-8b/],
    [["frobnicate"], /unknown command "frobnicate"/],
    [["sweep", "--model", "llama3-8b", "--batch", "64..8"], /a range is LO\.\.HI/],
    [["estimate", MODEL_FILE, "--batch", "8"], /--batch applies to built-in models/],
    [
      ["estimate", "--model", "llama3-8b", "--dim", "B=4"],
      /--dim B: a built-in model's dims are L, D, F/,
    ],
    [["estmate", "--model", "llama3-8b"], /unknown command "estmate"; did you mean estimate\?/],
    [["estimate", "--model", "llama3-8b", "--fromat", "csv"], /did you mean --format\?/],
    [
      ["trace", MODEL_FILE, "--format", "csv"],
      /--format does not apply to trace; its flags are --out and the model's/,
    ],
    [
      ["estimate", "--model", "llama3-8b", "--batch", "8", "--format", "json"],
      /--format does not apply to estimate/,
    ],
  ])("usage error %j", (args, message) => {
    const r = shardcost(args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain("usage: shardcost <command>");
    expectNoStackTrace(r.stderr);
  });
});

describe("CLI conventions", () => {
  it("--version; --help for the whole CLI and per command; the bare command is a usage error", () => {
    const v = shardcost(["--version"]);
    expect(v.status).toBe(0);
    expect(v.stdout).toMatch(/^shardcost \d+\.\d+\.\d+\n$/);
    const all = shardcost(["--help"]);
    expect(all.status).toBe(0);
    expect(all.stdout).toContain("commands:");
    for (const c of ["estimate", "sweep", "compare", "explain", "report", "trace"]) {
      const h = shardcost([c, "--help"]);
      expect(h.status).toBe(0);
      expect(h.stdout).toContain(`usage: shardcost ${c} `);
      expect(h.stdout).not.toContain("commands:");
    }
    expect(shardcost(["sweep", "--help"]).stdout).toContain("--format");
    expect(shardcost(["trace", "--help"]).stdout).not.toContain("--format");
    const bare = shardcost([]);
    expect(bare.status).toBe(2);
    expect(bare.stdout).toBe("");
    expect(bare.stderr).toContain("usage: shardcost <command>");
  });

  it("report and trace without --out write to a default file in the working directory", () => {
    const dir = scratch();
    const r = shardcost(["report", "--model", "llama3-8b", "--mesh", "v5e:2x2"], dir);
    expect(r.status).toBe(0);
    expect(readFileSync(join(dir, "shardcost-report.html"), "utf8")).toContain("<svg");
    const t = shardcost(
      ["trace", "--model", "llama3-8b", "--mesh", "v5e:2x2", "--layers", "2"],
      dir,
    );
    expect(t.status).toBe(0);
    expect(
      JSON.parse(readFileSync(join(dir, "shardcost-trace.json"), "utf8")).traceEvents.length,
    ).toBeGreaterThan(3);
  });
});

describe("shardcost init", () => {
  it("writes a model file and a tsconfig outside the repo: the CLI estimates it, tsc checks it", () => {
    const dir = join(scratch(), "my-model");
    const r = shardcost(["init", dir]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(join(dir, "model.ts"));
    const e = shardcost(["estimate", join(dir, "model.ts"), "--mesh", "v5e:2x4x4", "--json"]);
    expect(e.status).toBe(0);
    expect(JSON.parse(e.stdout).perChip.iciBytes).toBeGreaterThan(0);
    const tsc = join(ROOT, "node_modules/typescript/bin/tsc");
    const check = () =>
      spawnSync(process.execPath, [tsc, "-p", join(dir, "tsconfig.json")], { encoding: "utf8" });
    expect(check().status).toBe(0);
    // The editor's check is real: a wrong call is a type error there too.
    const model = join(dir, "model.ts");
    writeFileSync(model, readFileSync(model, "utf8").replace("shard(t.x,", "shard(42,"));
    const broken = check();
    expect(broken.status).not.toBe(0);
    expect(broken.stdout).toMatch(/model\.ts\(\d+,\d+\): error TS2345/);
    // It never overwrites.
    expect(shardcost(["init", dir]).status).toBe(1);
  });
});

describe("model-file typing", () => {
  const declarations = [
    'import { model, type Traced, tensor } from "@shardcost/core";',
    'import { einsum, shard } from "@shardcost/ops";',
    "export const dims = { B: 16, D: 1024, F: 4096 };",
    'export const inputs = { x: tensor("x[B, D]"), w: { up: tensor("Wup[D, F_X]", "bf16", "param") } };',
  ];
  const body = 'shard(einsum("BD,DF->BF", t.x, t.w.up), "[B, F_X]")';
  const run = (file: string) =>
    shardcost(["estimate", join(scratch({ "m.ts": file }), "m.ts"), "--mesh", "v5e:4", "--json"]);

  it("`Traced<typeof inputs>` and `model({ inputs, dims }, (t) => …)` type-check and agree", () => {
    const typed = run(
      [
        ...declarations,
        `export default function f(t: Traced<typeof inputs>) { return { y: ${body} }; }`,
      ].join("\n"),
    );
    const bundled = run(
      [...declarations, `export default model({ inputs, dims }, (t) => ({ y: ${body} }));`].join(
        "\n",
      ),
    );
    expect(typed.stderr).toBe("");
    expect(bundled.stderr).toBe("");
    const a = JSON.parse(typed.stdout);
    const b = JSON.parse(bundled.stdout);
    expect(b.perChip).toEqual(a.perChip);
    expect(b.dims).toEqual({ B: 16, D: 1024, F: 4096 });
    // 2·B·D·F/4 on each chip: the nested input arrived as a tracer.
    expect(a.perChip.flops).toBe((2 * 16 * 1024 * 4096) / 4);
  });

  it("`(t: typeof inputs)` is a type error with a hint naming the two idioms that work", () => {
    const r = run(
      [
        ...declarations,
        `export default function f(t: typeof inputs) { return { y: ${body} }; }`,
      ].join("\n"),
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/m\.ts:5:\d+ Argument of type/);
    expect(r.stderr).toContain("hint: the forward function receives a Tracer");
    expect(r.stderr).toContain("Traced<typeof inputs>");
    expect(r.stderr).toContain("export default model({ inputs, dims }");
    expectNoStackTrace(r.stderr);
  });

  it("output piped to a file has no colour codes or carriage returns (NO_COLOR or not)", () => {
    const args = ["sweep", "--model", "llama3-8b", "--mesh", "v5e:2x2", "--batch", "1..4"];
    for (const env of [{ NO_COLOR: "1" }, {}]) {
      const r = spawnSync(
        process.execPath,
        [join(ROOT, "packages/cli/bin/shardcost.js"), ...args],
        {
          cwd: ROOT,
          encoding: "utf8",
          env: { ...process.env, ...env },
        },
      );
      expect(r.status).toBe(0);
      const out = r.stdout + r.stderr;
      expect(out.includes(String.fromCharCode(27))).toBe(false); // ESC: colour codes
      expect(out.includes("\r")).toBe(false); // the progress line's carriage return
    }
  });
});

describe("model files are code", () => {
  const file = (body: string, imports = "") =>
    [
      'import { tensor, type Traced } from "@shardcost/core";',
      'import { einsum } from "@shardcost/ops";',
      imports,
      "export const dims = { B: 8, D: 64, F: 128 };",
      'export const inputs = { x: tensor("x[B, D]"), w: tensor("w[D, F_X]", "bf16", "param") };',
      `export default function f(t: Traced<typeof inputs>) {\n${body}\n}`,
    ].join("\n");
  const body = '  return { y: einsum("BD,DF->BF", t.x, t.w) };';

  it("console.log is allowed and goes to stderr, so --json stays clean", () => {
    const dir = scratch({ "m.ts": file(`  console.log("tracing", t.x.dims.join(""));\n${body}`) });
    const r = shardcost(["estimate", "m.ts", "--mesh", "v5e:4", "--json"], dir);
    expect(r.status).toBe(0);
    // The function may run more than once (a second trace records source lines).
    expect(r.stderr).toMatch(/^(tracing BD\n)+$/);
    expect(JSON.parse(r.stdout).perChip.flops).toBe((2 * 8 * 64 * 128) / 4);
  });

  it(".mts files and imports from a parent directory work; source lines are relative", () => {
    const dir = scratch();
    mkdirSync(join(dir, "shared"));
    mkdirSync(join(dir, "models"));
    writeFileSync(
      join(dir, "shared/layers.ts"),
      'import { einsum } from "@shardcost/ops";\nimport type { Tracer } from "@shardcost/core";\n' +
        'export const up = (x: Tracer, w: Tracer) => einsum("BD,DF->BF", x, w);\n',
    );
    writeFileSync(
      join(dir, "models/m.mts"),
      file("  return { y: up(t.x, t.w) };", 'import { up } from "../shared/layers";'),
    );
    const r = shardcost(["estimate", "models/m.mts", "--mesh", "v5e:4", "--json"], dir);
    expect(r.stderr).toBe("");
    const report = JSON.parse(r.stdout);
    expect(report.perChip.flops).toBe((2 * 8 * 64 * 128) / 4);
    expect(report.ops.map((o: { source: string }) => o.source)).toContain("shared/layers.ts:3");
    // From another working directory the same file's lines are relative to it.
    const inner = shardcost(
      ["estimate", "m.mts", "--mesh", "v5e:4", "--json"],
      join(dir, "models"),
    );
    expect(JSON.parse(inner.stdout).ops.map((o: { source: string }) => o.source)).toContain(
      "../shared/layers.ts:3",
    );
  });

  it("an endless loop ends in a typed error within --timeout, and no temp folder is left", () => {
    const tmp = scratch();
    const dir = scratch({ "m.ts": file(`  for (;;) {}\n${body}`) });
    const started = Date.now();
    const r = spawnSync(
      process.execPath,
      [join(ROOT, "packages/cli/bin/shardcost.js"), "estimate", "m.ts", "--timeout", "2"],
      { cwd: dir, encoding: "utf8", env: { ...process.env, TMPDIR: tmp } },
    );
    expect(Date.now() - started).toBeLessThan(12_000);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/error\[timeout\]: model file m\.ts did not finish within 2 s/);
    expectNoStackTrace(r.stderr);
    expect(readdirSync(tmp)).toEqual([]);
    // A file that fails to compile leaves nothing either.
    writeFileSync(join(dir, "bad.ts"), file("  return { y: t.x.nope };"));
    spawnSync(
      process.execPath,
      [join(ROOT, "packages/cli/bin/shardcost.js"), "estimate", "bad.ts"],
      {
        cwd: dir,
        env: { ...process.env, TMPDIR: tmp },
      },
    );
    expect(readdirSync(tmp)).toEqual([]);
  });
});

describe("units and links as vendors name them", () => {
  it("an H100 mesh: HBM in GiB, collectives over NVLink/network; a v5e: GB and ICI", () => {
    const gpu = shardcost([
      "estimate",
      "--model",
      "llama3-8b",
      "--mesh",
      "h100:2x8",
      "--batch",
      "64",
    ]);
    expect(gpu.status).toBe(0);
    expect(gpu.stdout).toContain("of 80 GiB (85.9 GB) HBM");
    expect(gpu.stdout).toMatch(/NVLink\/network [\d.]+ [kMG]?B sent/);
    expect(gpu.stdout).not.toMatch(/\bICI\b/);
    const tpu = shardcost([
      "estimate",
      "--model",
      "llama3-8b",
      "--mesh",
      "v5e:2x2",
      "--batch",
      "8",
    ]);
    expect(tpu.stdout).toContain("of 16.0 GB HBM");
    expect(tpu.stdout).toMatch(/ICI [\d.]+ [kMG]?B sent/);
  });
});

describe("every batch gets an answer", () => {
  it("sweep --batch 1..512 over every layout on 4x4 and 16x16: no row is an error", () => {
    const r = shardcost([
      "sweep",
      "--model",
      "llama3-70b",
      "--batch",
      "1..512",
      "--mesh",
      "v5e:4x4,v5e:16x16",
      "--layout",
      "1d-ws,2d-ws,weight-gathered,weight-gathered:X,fsdp",
      "--format",
      "json",
    ]);
    expect(r.stderr).toBe("");
    const rows = JSON.parse(r.stdout).rows as { error: string | null; stepS: number }[];
    expect(rows).toHaveLength(10 * 2 * 5);
    expect(rows.filter((x) => x.error !== null)).toEqual([]);
    for (const x of rows) expect(x.stepS).toBeGreaterThan(0);
  });

  it("report with defaults on v5e:4x4 (batch 1 to 512), and batch 1 through estimate", () => {
    const dir = scratch();
    const out = join(dir, "r.html");
    const r = shardcost(["report", "--model", "llama3-70b", "--mesh", "v5e:4x4", "--out", out]);
    expect(r.stderr).toMatch(/^wrote .*r\.html/);
    expect(r.status).toBe(0);
    expect(readFileSync(out, "utf8")).toContain("<svg");
    const one = JSON.parse(
      shardcost(["estimate", "--model", "llama3-70b", "--mesh", "v5e:4x4", "--json"]).stdout,
    );
    expect(one.dims.B).toBe(1);
    expect(one.layout.name).toBe("1d-ws");
    expect(one.layout.resolved.join("\n")).toMatch(/positions over Y/);
  });
});

describe("shardcost sweep, compare, explain, trace", () => {
  it("sweep: one CSV row per configuration, the Pareto frontier marked", () => {
    const r = shardcost([
      "sweep",
      "--model",
      "llama3-8b",
      "--seq",
      "4096",
      "--batch",
      "8..128",
      "--mesh",
      "v5e:2x2,v5e:2x4",
      "--layout",
      "1d-ws,fsdp",
      "--weights",
      "bf16,int8",
    ]);
    expect(r.status).toBe(0);
    const [header, ...lines] = r.stdout.trim().split("\n");
    expect(header!.split(",")).toContain("pareto");
    expect(lines).toHaveLength(5 * 2 * 2 * 2);
    const cols = header!.split(",");
    const rows = lines.map((l) =>
      Object.fromEntries(
        l
          .split(",")
          .slice(0, cols.length - 1)
          .map((v, i) => [cols[i], v]),
      ),
    );
    const frontier = rows.filter((x) => x.pareto === "true");
    expect(frontier.length).toBeGreaterThan(0);
    // No fitting row beats a frontier row on both latency and throughput.
    for (const f of frontier) {
      expect(f.fits).toBe("true");
      const dominated = rows.some(
        (x) =>
          x.fits === "true" &&
          Number(x.stepS) < Number(f.stepS) &&
          Number(x.tokensPerSPerChip) > Number(f.tokensPerSPerChip),
      );
      expect(dominated).toBe(false);
    }
    const json = JSON.parse(
      shardcost(["sweep", "--model", "llama3-8b", "--batch", "8,16", "--format", "json"]).stdout,
    );
    expect(json.rows).toHaveLength(2);
  });

  it("sweep over a model file: meshes × lists of dim sizes, each traced and costed", () => {
    const r = shardcost([
      "sweep",
      MODEL_FILE,
      "--mesh",
      "v5e:2x4x4,v5e:4x4x4",
      "--dim",
      "B=64..256",
      "--dim",
      "D=8192,8190",
    ]);
    expect(r.status).toBe(0);
    const [header, ...lines] = r.stdout.trim().split("\n");
    expect(header).toBe(
      "mesh,chips,B,D,fits,memoryBytes,stepS,serialS,tokensPerS,tokensPerSPerChip,bound,pareto,error",
    );
    expect(lines).toHaveLength(2 * 3 * 2);
    // D=8190 is not divisible by X: an error row naming it, not a crash or a wrong number.
    const bad = lines.filter((l) => l.split(",")[3] === "8190");
    expect(bad).toHaveLength(6);
    for (const l of bad) expect(l).toMatch(/D=8190 is not divisible/);
    // Rows agree with estimate --json at the same sizes.
    const one = lines.find((l) => l.startsWith("v5e:4x4x4,64,128,8192,"))!.split(",");
    const est = JSON.parse(
      shardcost(["estimate", MODEL_FILE, "--mesh", "v5e:4x4x4", "--dim", "B=128", "--json"]).stdout,
    );
    expect(Number(one[6])).toBe(est.time.stepS);
    expect(Number(one[7])).toBe(est.time.serialS);
  });

  it("compare: layouts side by side per mesh, with the fastest that fits", () => {
    const r = shardcost([
      "compare",
      "--model",
      "llama3-70b",
      "--batch",
      "64",
      "--weights",
      "int8",
      "--mesh",
      "v5e:2x4,v5e:4x4,v5e:4x8",
    ]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/mesh\s+chips\s+1d-ws step\s+ICI\s+mem\/chip\s+2d-ws step/);
    for (const m of ["v5e:2x4", "v5e:4x4", "v5e:4x8"]) expect(r.stdout).toContain(m);
    expect(r.stdout).toMatch(/v5e:4x8 .*(1d-ws|2d-ws)$/m);
  });

  it("compare a model file across meshes; a mesh its dims do not divide says why", () => {
    const r = shardcost(["compare", MODEL_FILE, "--mesh", "v5e:2x4x4,v5e:4x4x4,v5e:4x4x3"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^v5e:2x4x4 +32 +\d/m);
    expect(r.stdout).toMatch(/^v5e:4x4x3 +48 +n\/a/m);
    expect(r.stdout).toMatch(/v5e:4x4x3: input x bf16\[B, D_XYZ\]: dim D=8192 is not divisible/);
  });

  it("explain: both programs in notation, each collective with the equation that caused it", () => {
    const r = shardcost(["explain", MODEL_FILE, "--mesh", "v5e:2x4x4"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("Traced program");
    // Traced: global shapes, the weights' declared shardings.
    expect(r.stdout).toMatch(/= astype\[bf16\] Wgate:int8\[D_X, F_YZ\]/);
    // Lowered: local shapes, partial sums, and each collective with its cause.
    expect(r.stdout).toMatch(/= einsum\[BD,DF->BF\] a:bf16\[B, D_X\] b:bf16\[D_X, F_YZ\]/);
    expect(r.stdout).toMatch(/c:bf16\[B, F_YZ\]\{U_X\} = einsum/);
    expect(r.stdout).toMatch(
      /= AllReduce_X c:bf16\[B, F_YZ\]\{U_X\} .*\n {6}caused by: d:bf16\[B, F\] = silu c:bf16\[B, F\]/,
    );
    expect(r.stdout).toMatch(/= AllGather_YZ\[D\] x:bf16\[B, D_XYZ\]/);
    expect(r.stdout).toContain(
      `@ examples/models/mlp-2d.ts:${lineOf('einsum("BD,DF->BF", x, t.gate)')}`,
    );
  });

  it("trace: a Chrome/Perfetto trace with a compute and an ICI track, summing to the step", () => {
    const dir = scratch();
    const out = join(dir, "step.json");
    const r = shardcost(["trace", MODEL_FILE, "--mesh", "v5e:2x4x4", "--out", out]);
    expect(r.status).toBe(0);
    const t = JSON.parse(readFileSync(out, "utf8"));
    type Span = { ph: string; pid: number; tid: number; ts: number; dur: number };
    const all: Span[] = t.traceEvents.filter((e: Span) => e.ph === "X");
    const report = JSON.parse(
      shardcost(["estimate", MODEL_FILE, "--mesh", "v5e:2x4x4", "--json"]).stdout,
    );
    // The serial schedule: one op after another, summing to the serial step.
    const spans = all.filter((e) => e.pid === 0);
    expect(new Set(spans.map((e) => e.tid))).toEqual(new Set([0, 1]));
    const total = spans.reduce((a, e) => a + e.dur, 0);
    expect(total).toBeCloseTo(report.time.serialS * 1e6, 2);
    for (let i = 1; i < spans.length; i++) {
      expect(spans[i]!.ts).toBeGreaterThanOrEqual(spans[i - 1]!.ts + spans[i - 1]!.dur - 1e-9);
    }
    // The overlapped schedule: each track from the start; the step ends with the longer one.
    const overlapped = all.filter((e) => e.pid === 1);
    expect(overlapped).toHaveLength(spans.length);
    const end = (tid: number) =>
      Math.max(...overlapped.filter((e) => e.tid === tid).map((e) => e.ts + e.dur));
    expect(Math.min(...overlapped.map((e) => e.ts))).toBe(0);
    expect(Math.max(end(0), end(1))).toBeCloseTo(report.time.stepS * 1e6, 2);
    expect(report.time.stepS).toBeLessThan(report.time.serialS);
    expect(r.stderr).toMatch(/serial \(.+\) and with collectives overlapped \(.+\)/);
  });

  it("trace: whole-nanosecond slices that never overlap on a track, in the Perfetto JSON form", () => {
    const dir = scratch();
    const out = join(dir, "step.json");
    const args = [
      "trace",
      "--model",
      "llama3-8b",
      "--mesh",
      "v5e:4x4",
      "--batch",
      "64",
      "--out",
      out,
    ];
    expect(shardcost(args).status).toBe(0);
    const t = JSON.parse(readFileSync(out, "utf8"));
    const spans = t.traceEvents.filter((e: { ph: string }) => e.ph === "X");
    expect(spans.length).toBeGreaterThan(200);
    const ns = (us: number) => Math.round(us * 1000);
    const tracks = new Map<string, { ts: number; dur: number }[]>();
    for (const e of spans) {
      for (const key of ["name", "ph", "ts", "dur", "pid", "tid"]) expect(e).toHaveProperty(key);
      // Whole nanoseconds, as Perfetto stores them.
      expect(Math.abs(e.ts * 1000 - ns(e.ts))).toBeLessThan(1e-6);
      expect(Math.abs(e.dur * 1000 - ns(e.dur))).toBeLessThan(1e-6);
      const k = `${e.pid}/${e.tid}`;
      tracks.set(k, [...(tracks.get(k) ?? []), e]);
    }
    for (const track of tracks.values()) {
      for (let i = 1; i < track.length; i++) {
        // Sorted, and each slice starts at or after the previous one ends.
        expect(ns(track[i]!.ts)).toBeGreaterThanOrEqual(
          ns(track[i - 1]!.ts) + ns(track[i - 1]!.dur),
        );
      }
    }
  });
});

describe("the README's JSON sample", () => {
  it("is what `estimate --json` prints for the model file (first collective, second op row)", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const sample = JSON.parse(
      /### The JSON report[\s\S]*?```json\n([\s\S]*?)```/.exec(readme)![1]!,
    );
    const report = JSON.parse(
      shardcost(["estimate", MODEL_FILE, "--mesh", "v5e:2x4x4", "--json"]).stdout,
    );
    expect(sample).toEqual({
      ...report,
      collectives: report.collectives.slice(0, 1),
      ops: report.ops.slice(1, 2),
    });
  });
});
