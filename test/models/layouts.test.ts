import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fc, test } from "@fast-check/vitest";
import { isCollective, printEqn, ShardcostError, trace } from "@shardcost/core";
import { LLAMA3_70B, llamaConfigFromHf, llamaDecode, readHfConfig } from "@shardcost/ops";
import { idealStep, LAYOUTS, resolveLayout, shardedStep } from "@shardcost/serving";
import { lower, mesh } from "@shardcost/sharding";
import { assertSpmdEquivalent } from "@shardcost/sharding/testing";
import { describe, expect, it } from "vitest";

const HF = {
  hidden_size: 8192,
  intermediate_size: 28672,
  num_attention_heads: 64,
  num_key_value_heads: 8,
  num_hidden_layers: 80,
  vocab_size: 128256,
  tie_word_embeddings: false,
  model_type: "llama",
};

describe("models from Hugging Face config.json", () => {
  it("reads the fields into the same shape as the preset", () => {
    const c = llamaConfigFromHf(HF);
    expect({ ...c, name: LLAMA3_70B.name, tied: undefined }).toEqual({
      ...LLAMA3_70B,
      tied: undefined,
    });
    expect(llamaConfigFromHf({ ...HF, head_dim: 256 }).H).toBe(256);
  });

  it("a missing field is an error naming it; a bad file is an error naming the path", () => {
    const { hidden_size: _, ...missing } = HF;
    expect(() => llamaConfigFromHf(missing, "c.json")).toThrow(
      'c.json: missing field "hidden_size"',
    );
    expect(() => llamaConfigFromHf({ ...HF, vocab_size: "big" })).toThrow(
      /"vocab_size" must be a positive integer/,
    );
    const dir = mkdtempSync(join(tmpdir(), "shardcost-"));
    writeFileSync(join(dir, "broken.json"), "{ nope");
    expect(() => readHfConfig(join(dir, "broken.json"))).toThrow(/broken\.json is not valid JSON/);
    expect(() => readHfConfig(join(dir, "absent.json"))).toThrow(
      /cannot read .*absent\.json: ENOENT/,
    );
    writeFileSync(join(dir, "config.json"), JSON.stringify(HF));
    expect(readHfConfig(join(dir, "config.json")).layers).toBe(80);
  });
});

describe("Hugging Face architectures", () => {
  // Parameter counts as published on each model card / from the released safetensors index.
  const cases = [
    { file: "mistral-7b.json", type: "mistral", params: 7_241_732_096 },
    { file: "mixtral-8x7b.json", type: "mixtral", params: 46_702_792_704 },
    // Qwen2's q/k/v biases (28 · 4608 = 129,024 parameters) are not modelled.
    { file: "qwen2-7b.json", type: "qwen2", params: 7_615_616_512 },
    // 14.3B on the model card: 2 · 151936 · 2048 embeddings, and per layer q/k/v/o (4 · 2048²),
    // 60 experts (60 · 3 · 2048 · 1408), the shared expert (3 · 2048 · 5632), its gate (2048),
    // the router (2048 · 60), norms (2 · 2048) and q/k/v biases (3 · 2048, not modelled).
    { file: "qwen1.5-moe-a2.7b.json", type: "qwen2_moe", params: 14_315_784_192 },
  ];
  it.each(cases)("$file: traced parameters within 1% of the published $params", (c) => {
    const config = readHfConfig(join("test/fixtures/hf", c.file));
    expect(config.name.startsWith(`${c.type}:`)).toBe(true);
    const step = idealStep(config, { batch: 8, seq: 16 }, "v5e", 1);
    const params = step.memory.paramBytes / 2;
    expect(Math.abs(params - c.params) / c.params).toBeLessThan(0.01);
  });

  it("Mixtral reads its experts and top-k; absent fields take Hugging Face's defaults", () => {
    expect(readHfConfig("test/fixtures/hf/mixtral-8x7b.json").moe).toEqual({
      experts: 8,
      topK: 2,
    });
    const { tie_word_embeddings: _t, num_key_value_heads: _k, ...bare } = HF;
    const c = llamaConfigFromHf(bare);
    expect(c.tied).toBe(false);
    expect(c.K).toBe(c.N);
  });

  it("Qwen2-MoE reads experts, top-k and the shared expert; dense layers among sparse ones are refused", () => {
    const c = readHfConfig("test/fixtures/hf/qwen1.5-moe-a2.7b.json");
    expect(c.F).toBe(1408); // each expert's hidden dim
    expect(c.moe).toEqual({ experts: 60, topK: 4, shared: { F: 5632 } });
    const json = JSON.parse(readFileSync("test/fixtures/hf/qwen1.5-moe-a2.7b.json", "utf8"));
    expect(() => llamaConfigFromHf({ ...json, mlp_only_layers: [0, 1] }, "q.json")).toThrow(
      /q\.json: Qwen2-MoE with dense layers among the sparse ones .* is not supported/,
    );
  });

  it("Qwen2-MoE under every layout on v5e 4x4: every weight split, the shared expert too", () => {
    const config = readHfConfig("test/fixtures/hf/qwen1.5-moe-a2.7b.json");
    const m = mesh("v5e", { X: 4, Y: 4 });
    const perLayer = 4 * 2048 ** 2 + 60 * 3 * 2048 * 1408 + 3 * 2048 * 5632;
    for (const layout of ["1d-ws", "2d-ws", "weight-gathered", "fsdp"] as const) {
      const s = shardedStep({ ...config, layers: 2 }, { batch: 32, seq: 1024 }, layout, m);
      // bf16; the big weights 16 ways. Norms, the router and the shared gate may be replicated.
      const split = 2 * (2 * perLayer + 2 * 151936 * 2048);
      const replicable = 2 * (2 * (2 * 2048 + 2048 * 60 + 2048) + 2048);
      const perChip = s.estimate.memory.paramBytes;
      expect(perChip).toBeGreaterThanOrEqual((split + replicable) / 16);
      expect(perChip).toBeLessThanOrEqual(split / 16 + replicable);
    }
  });

  it("another architecture is an error naming it and the supported ones", () => {
    const gpt2 = { ...HF, architectures: ["GPT2LMHeadModel"], model_type: "gpt2" };
    expect(() => llamaConfigFromHf(gpt2, "gpt2.json")).toThrow(
      /gpt2\.json: architecture GPT2LMHeadModel is not supported; shardcost models LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, MixtralForCausalLM, Qwen2MoeForCausalLM/,
    );
  });

  it("Mixtral under every layout on v5e 4x4: experts and their F split, every weight 16 ways", () => {
    const config = readHfConfig("test/fixtures/hf/mixtral-8x7b.json");
    const m = mesh("v5e", { X: 4, Y: 4 });
    for (const layout of ["1d-ws", "2d-ws", "weight-gathered", "fsdp"] as const) {
      const s = shardedStep({ ...config, layers: 2 }, { batch: 32, seq: 1024 }, layout, m);
      // A layer: (46,702,792,704 − 2 · 32000 · 4096 − 4096) / 32 = 1,451,270,144 parameters;
      // bf16. The norms and the (4096 × 8) router may stay replicated: ≤ 0.05% more.
      const total = 2 * (2 * 1_451_270_144 + 2 * 32000 * 4096 + 4096);
      const perChip = s.estimate.memory.paramBytes;
      expect(perChip).toBeGreaterThanOrEqual(total / 16);
      expect(perChip / (total / 16) - 1).toBeLessThan(5e-4);
    }
  });

  it("a tiny mixture of experts (with and without a shared expert) is SPMD-equivalent under every layout, batch 1 and 8", () => {
    const tiny = {
      name: "tiny-moe",
      layers: 1,
      D: 16,
      F: 32,
      N: 4,
      K: 2,
      H: 4,
      V: 16,
      moe: { experts: 2, topK: 1 },
    };
    const shared = {
      ...tiny,
      name: "tiny-moe-shared",
      moe: { experts: 2, topK: 1, shared: { F: 8 } },
    };
    const m = mesh("v5e", { X: 2, Y: 4 });
    for (const config of [tiny, shared]) {
      for (const layout of ["1d-ws", "2d-ws", "weight-gathered", "fsdp"] as const) {
        for (const batch of [1, 8]) {
          const step = { phase: "decode", batch, seq: 4 } as const;
          const spec = llamaDecode(config, {
            ...step,
            weights: "f32",
            kv: "f32",
            compute: "f32",
            layout: resolveLayout(layout, config, m, step),
          });
          assertSpmdEquivalent(trace(spec.fn, spec.inputs, spec.dims), m, { tolerance: 1e-5 });
        }
      }
    }
  });
});

describe("layouts", () => {
  it("every preset is named and sourced", () => {
    for (const l of Object.values(LAYOUTS)) {
      expect(l.source.length).toBeGreaterThan(10);
      expect(l.description.length).toBeGreaterThan(10);
    }
  });

  it("int8 LLaMA-3-70B on a v5e 4x2 at batch 32, 8k context: ≈113 GB in all, HBM-bound ≈17 ms", () => {
    const m = mesh("v5e", { X: 8 });
    const step = shardedStep(
      LLAMA3_70B,
      { batch: 32, seq: 8192, weights: "int8", kv: "int8", attention: "flash" },
      "1d-ws",
      m,
    );
    expect(step.memory.fits).toBe(true);
    expect(Math.abs(step.memory.totalBytes * m.chips - 113.5e9) / 113.5e9).toBeLessThan(0.02);
    expect(step.time.bound).toBe("hbm");
    // The book's step reads the weights and the KV caches once (17.5 ms at 8.1e11 B/s; 5%);
    // activation traffic (norms, residual adds, projections' outputs) adds under 8% more.
    const { paramBytes, cacheBytes } = step.estimate.totals;
    const readS = (paramBytes + cacheBytes) / 8.1e11;
    expect(Math.abs(readS - 17.5e-3) / 17.5e-3).toBeLessThan(0.05);
    expect(step.time.overlappedS).toBeGreaterThan(readS * (8.1 / 8.2));
    expect(step.time.overlappedS / readS).toBeLessThan(1.08);
  });

  it("a layout throws only when a weight has no dim any axis divides, and says which", () => {
    const three = mesh("v5e", { X: 3 });
    for (const name of ["1d-ws", "2d-ws", "weight-gathered", "fsdp"] as const) {
      expect(() => resolveLayout(name, LLAMA3_70B, three, 32)).toThrow(
        `layout ${name} cannot apply to llama3-70b on X=3: weight wq has no dim that any mesh ` +
          "axis divides (D=8192, N=64, H=128)",
      );
    }
    // One axis: 2d-ws is 1d-ws, and says so. F that no axis divides: D takes the axes.
    const one = resolveLayout("2d-ws", LLAMA3_70B, mesh("v5e", { X: 16 }), 32);
    expect(one.choices[0]).toBe("one mesh axis: 2D is 1D here");
    const odd = resolveLayout("1d-ws", { ...LLAMA3_70B, F: 28670 }, mesh("v5e", { X: 4 }), 32);
    expect(odd.gate).toEqual({ D: ["X"] });
    // A batch no axis divides: the cache is split by position over the axes the batch leaves,
    // and replicated only when the positions do not divide either.
    const m = mesh("v5e", { X: 4, Y: 4 });
    const b30 = resolveLayout("1d-ws", LLAMA3_70B, m, { batch: 30, seq: 8192 });
    expect(b30.kvCache).toEqual({ S: ["Y"], K: ["X"] });
    const odd30 = resolveLayout("1d-ws", LLAMA3_70B, m, { batch: 30, seq: 8191 });
    expect(odd30.kvCache).toEqual({ K: ["X"] });
    expect(odd30.choices.join("\n")).toMatch(
      /replicated over Y \(neither batch 30 nor the positions divide by 4\)/,
    );
  });

  it("heads not divisible by the model-parallel axes are a typed error naming the tensor", () => {
    const m = mesh("v5e", { X: 3 });
    const model = llamaDecode(
      { ...LLAMA3_70B, layers: 1 },
      { batch: 3, seq: 16, layout: { wq: "[D, N_X, H]" } },
    );
    const program = trace(model.fn, model.inputs, model.dims);
    expect(() => assertSpmdEquivalent(program, m)).toThrow(ShardcostError);
    expect(() => assertSpmdEquivalent(program, m)).toThrow(
      /input layers\.0\.wq .*dim N=64 is not divisible/,
    );
  });

  it("a model too big for its mesh is a verdict, not an error", () => {
    const step = idealStep(LLAMA3_70B, { batch: 32, seq: 8192 }, "v5e", 1);
    expect(step.memory.fits).toBe(false);
    expect(step.memory.headroomBytes).toBeLessThan(-100e9);
  });
});

describe("LLaMA-like models under layouts are SPMD-equivalent (tiny dims)", () => {
  const configs = fc.record({
    layers: fc.constant(1),
    D: fc.constantFrom(8, 16),
    F: fc.constantFrom(16, 32),
    K: fc.constantFrom(2, 4),
    G: fc.constantFrom(1, 2),
    H: fc.constantFrom(2, 4),
    V: fc.constantFrom(16, 32),
  });
  const shapes = fc.constantFrom<Record<string, number>>(
    { X: 2 },
    { X: 2, Y: 2 },
    { X: 4 },
    { X: 2, Y: 4 },
  );
  const layouts = fc.constantFrom("1d-ws", "2d-ws", "weight-gathered", "fsdp" as const);
  test.prop([configs, shapes, layouts, fc.boolean()], { seed: 11, numRuns: 60 })(
    "lower + simulate equals interpret for random configs, meshes and layouts",
    (c, shape, layoutName, flash) => {
      const config = { name: "tiny", ...c, N: c.K * c.G };
      const m = mesh("v5e", shape);
      const batch = 8;
      let layout: ReturnType<typeof resolveLayout>;
      try {
        layout = resolveLayout(layoutName, config, m, batch);
      } catch (e) {
        expect(e).toBeInstanceOf(ShardcostError);
        return;
      }
      const model = llamaDecode(config, {
        batch,
        seq: 4,
        weights: "f32",
        kv: "f32",
        compute: "f32",
        attention: flash ? "flash" : "naive",
        layout,
      });
      const program = trace(model.fn, model.inputs, model.dims);
      assertSpmdEquivalent(program, m, { tolerance: 1e-5 });
    },
  );
});

describe("dtypes", () => {
  it("int8 compute runs the weight matmuls at int8 OP/s with bf16 activations", () => {
    const opts = { batch: 256, seq: 16, weights: "int8", kv: "int8" } as const;
    const bf16 = idealStep({ ...LLAMA3_70B, layers: 2 }, { ...opts, compute: "bf16" }, "v5e", 1);
    const int8 = idealStep({ ...LLAMA3_70B, layers: 2 }, { ...opts, compute: "int8" }, "v5e", 1);
    expect(int8.flopsPerChip).toBe(bf16.flopsPerChip);
    const matmuls = (s: typeof bf16) => s.estimate.ops.filter((o) => o.weightFlops > 0);
    expect(matmuls(int8).every((o) => o.computeClass === "int8")).toBe(true);
    expect(matmuls(bf16).every((o) => o.computeClass === "bf16")).toBe(true);
    expect(int8.time.flopsS).toBeLessThan(bf16.time.flopsS * 0.6);
  });

  it("weights in bf16, int8, int4 and fp8; KV caches in bf16, int8 and int4", () => {
    for (const weights of ["bf16", "int8", "int4", "fp8e4m3"] as const) {
      for (const kv of ["bf16", "int8", "int4"] as const) {
        const s = idealStep(
          { ...LLAMA3_70B, layers: 1 },
          { batch: 2, seq: 64, weights, kv },
          "v5e",
          1,
        );
        expect(s.memory.cacheBytes).toBeGreaterThan(0);
        expect(Number.isFinite(s.time.serialS)).toBe(true);
      }
    }
  });
});

describe("weight-stationary layouts keep the weights in place", () => {
  it.each(["1d-ws", "2d-ws"] as const)("%s: no collective moves a weight", (name) => {
    const m = mesh("v5e", { X: 8, Y: 2 });
    const config = { ...LLAMA3_70B, layers: 2 };
    const layout = resolveLayout(name, config, m, 32);
    const model = llamaDecode(config, {
      batch: 32,
      seq: 2048,
      weights: "int8",
      kv: "int8",
      attention: "flash",
      layout,
    });
    const lowered = lower(trace(model.fn, model.inputs, model.dims), m);
    // Weights, and their casts and constraints, by var id.
    const weights = new Set(lowered.inputs.filter((i) => i.role === "param").map((i) => i.var.id));
    for (const e of lowered.eqns) {
      const passthrough = e.primitive === "astype" || e.primitive === "shard";
      const input = e.inputs[0];
      if (passthrough && input?.kind === "var" && weights.has(input.id))
        weights.add(e.outputs[0]!.id);
    }
    const moved = lowered.eqns.filter(
      (e) =>
        isCollective(e.primitive) && e.inputs[0]?.kind === "var" && weights.has(e.inputs[0].id),
    );
    expect(moved.map((e) => printEqn(e))).toEqual([]);
    expect(lowered.eqns.some((e) => isCollective(e.primitive))).toBe(true);
  });
});
