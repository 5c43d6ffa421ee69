import {
  aval,
  dimSharding,
  type Eqn,
  internAval,
  Primitive,
  type Program,
  param,
  plainAval,
  printProgram,
  printType,
  tensor,
  trace,
} from "@shardcost/core";
import { add, dynamicSlice, einsum, gather, LLAMA3_8B, llamaDecode, shard } from "@shardcost/ops";
import { resolveLayout } from "@shardcost/serving";
import { lower, mesh } from "@shardcost/sharding";
import { describe, expect, it } from "vitest";
import { sharedParams } from "../packages/ops/src/params.js";

// Value types are interned, and the tracer and the lowering remember what a repeated op
// decided (by primitive, shared params object and operand types). These tests hold the
// remembered paths to the plain ones.

/** The same program with every equation's params copied: no two equations share params. */
function unshared(p: Program): Program {
  return {
    ...p,
    eqns: p.eqns.map((e) => ({ ...e, params: { ...e.params } }) as Eqn),
  };
}

describe("interned types", () => {
  it("gives one object per distinct type, whatever object the parts come in", () => {
    const a = aval(
      "bf16",
      [
        { dim: "B", axes: ["X"] },
        { dim: "D", axes: [] },
      ],
      [],
    );
    const b = aval("bf16", [dimSharding("B", ["X"]), dimSharding("D", [])]);
    expect(b).toBe(a);
    expect(internAval({ dtype: "bf16", dims: [...a.dims], partial: [] })).toBe(a);
    expect(aval("f32", a.dims)).not.toBe(a);
    expect(aval("bf16", a.dims, ["Y"])).not.toBe(a);
    expect(aval("bf16", [dimSharding("B", ["X", "Y"]), dimSharding("D", [])])).not.toBe(a);
    expect(plainAval("bf16", ["B", "D"])).toBe(aval("bf16", [dimSharding("B", []), a.dims[1]!]));
    expect(a).toEqual({
      dtype: "bf16",
      dims: [
        { dim: "B", axes: ["X"] },
        { dim: "D", axes: [] },
      ],
      partial: [],
    });
  });

  it("makes every type of a traced and a lowered LLaMA step the interned one", () => {
    const m = mesh("v5e", { X: 2, Y: 4 });
    const query = { batch: 8, seq: 1024 };
    const typesOf = (layers: number) => {
      const config = { ...LLAMA3_8B, layers };
      const step = llamaDecode(config, {
        ...query,
        weights: "int8",
        layout: resolveLayout("2d-ws", config, m, query),
      });
      const traced = trace(step.fn, step.inputs, step.dims);
      return [traced, lower(traced, m)].map((p) => [
        ...p.inputs.map((i) => i.var.aval),
        ...p.eqns.flatMap((e) => e.outputs.map((o) => o.aval)),
      ]);
    };
    const [two, three] = [typesOf(2), typesOf(3)];
    for (const [i, avals] of three.entries()) {
      for (const a of avals) expect(internAval(a)).toBe(a);
      // A third layer adds values of the same types as the second's: equal types are one
      // object, so it adds no new type objects.
      expect(avals.length).toBeGreaterThan(two[i]!.length);
      expect(new Set(avals).size).toBe(new Set(two[i]).size);
    }
  });
});

describe("remembered rule results", () => {
  it("lowers a repeated layer exactly as it lowers one whose equations share nothing", () => {
    for (const [layout, shape] of [
      ["1d-ws", { X: 4, Y: 2 }],
      ["2d-ws", { X: 2, Y: 4 }],
      ["weight-gathered", { X: 4, Y: 2 }],
      ["fsdp", { X: 8 }],
    ] as const) {
      const m = mesh("v5e", shape);
      const config = { ...LLAMA3_8B, layers: 3 };
      const query = { batch: 16, seq: 1024 };
      const step = llamaDecode(config, {
        ...query,
        weights: "int8",
        kv: "int8",
        layout: resolveLayout(layout, config, m, query),
      });
      const traced = trace(step.fn, step.inputs, step.dims);
      // Every op shares its params with its twin in the other layers, except the constraints
      // and flash attention (fresh params; not remembered): those are the only distinct ones
      // a layer adds, so the remembered path is what lowers the rest.
      const fresh = traced.eqns.filter(
        (e) => e.primitive === Primitive.Shard || e.primitive === Primitive.FlashAttention,
      ).length;
      const distinct = new Set(traced.eqns.map((e) => e.params)).size;
      expect(distinct - fresh).toBeLessThan(traced.eqns.length / config.layers);
      // A mesh of its own: a mesh keeps what was decided on it (the next test).
      const plain = mesh("v5e", shape);
      expect(printProgram(lower(traced, m))).toBe(printProgram(lower(unshared(traced), plain)));
    }
  });

  it("lowers a program on a mesh that has lowered others as on a fresh mesh", () => {
    // Decisions are kept per mesh and dim sizes: every layout, both dtype structures and two
    // batches (one the mesh's axes divide, one they do not) lowered on one mesh first, then
    // each program again on a mesh of its own.
    const shape = { X: 2, Y: 4 };
    const shared = mesh("v5e", shape);
    const config = { ...LLAMA3_8B, layers: 2 };
    const cases = (["1d-ws", "2d-ws", "weight-gathered", "fsdp"] as const).flatMap((layout) =>
      [16, 6].flatMap((batch) =>
        (["int8", "bf16"] as const).map((dtype) => ({ layout, batch, dtype })),
      ),
    );
    const programs = cases.map(({ layout, batch, dtype }) => {
      const query = { batch, seq: 1024 };
      const step = llamaDecode(config, {
        ...query,
        weights: dtype,
        kv: dtype,
        layout: resolveLayout(layout, config, shared, query),
      });
      return trace(step.fn, step.inputs, step.dims);
    });
    const onShared = programs.map((p) => printProgram(lower(p, shared)));
    programs.forEach((p, i) => {
      expect(onShared[i]).toBe(printProgram(lower(unshared(p), mesh("v5e", shape))));
    });
    // The same types at other sizes are decided afresh: D_X is valid at D = 16, not at D = 6.
    const x4 = mesh("v5e", { X: 4 });
    const at = (D: number) => trace((t) => add(t.x, t.x), { x: tensor("[B, D_X]") }, { B: 2, D });
    expect(printProgram(lower(at(16), x4))).toMatch(/D_X/);
    expect(() => lower(at(6), x4)).toThrow(/not divisible/);
  });

  it("tells apart one einsum under different constraints downstream", () => {
    // A weight split on the contracted dim, a small replicated activation: under [B, F_X] the
    // split is kept and the result reduce-scattered (once); without, an AllReduce (twice the
    // result) costs more than gathering the weight, so the weight is gathered.
    const m = mesh("v5e", { X: 2 });
    const p = trace(
      (t) => [
        shard(einsum("BD,DF->BF", t.x, t.w), "[B, F_X]"),
        shard(einsum("BD,DF->BF", t.x, t.w), "[B, F]"),
      ],
      { x: tensor("[B, D]"), w: param("[D_X, F]") },
      { B: 8, D: 12, F: 32 },
    );
    const einsums = p.eqns.filter((e) => e.primitive === Primitive.Einsum);
    expect(einsums).toHaveLength(2);
    expect(new Set(einsums.map((e) => e.params)).size).toBe(1);
    const lowered = printProgram(lower(p, m));
    expect(lowered).toBe(printProgram(lower(unshared(p), mesh("v5e", { X: 2 }))));
    expect(lowered).toMatch(/ReduceScatter/);
    expect(lowered).toMatch(/AllGather/);
  });

  it("still rejects an op after the same op was accepted on other operand types", () => {
    expect(() =>
      trace(
        (t) => [add(t.a, t.b), add(t.a, t.c)],
        { a: tensor("[B, D]"), b: tensor("[B, D]"), c: param("[B, D]", "f32") },
        { B: 2, D: 4 },
      ),
    ).toThrow(/dtypes bf16 and f32/);
  });

  it("shares params only between equal ones: a dim named null, and bad input, do not leak", () => {
    const inputs = { x: tensor("[B, S]"), ids: tensor("[B]", "int32"), t: param("[V, D]") };
    const dims = { B: 2, S: 8, V: 16, D: 4 };
    const p = trace(
      (t) => [
        dynamicSlice(t.x, "S", 0, { as: { dim: "null", size: 1 } }),
        dynamicSlice(t.x, "S", 0),
      ],
      inputs,
      dims,
    );
    expect(p.eqns.map((e) => printType(e.outputs[0]!.aval))).toEqual(["bf16[B, null]", "bf16[B]"]);
    // A bad call is rejected, and the good one after it is not tainted by it.
    expect(() =>
      trace((t) => gather(t.t, t.ids, ["V"] as unknown as string), inputs, dims),
    ).toThrow(/no dim V/);
    const good = trace((t) => gather(t.t, t.ids, "V"), inputs, dims);
    expect(printType(good.eqns[0]!.outputs[0]!.aval)).toBe("bf16[B, D]");
  });

  it("keys shared params by their parts as given: lists, names and null never pass for another", () => {
    let made = 0;
    const make = () => ({ made: ++made });
    const keys: (string | null | readonly string[])[][] = [
      [["A", "B"], "C"],
      [["A"], "B", "C"],
      [["A", "B", "C"]],
      ["A", "B", "C"],
      [[], "A", "B", "C"],
      [null, "A", "B", "C"],
      [["A", "B"], null],
      [["A", "B"]],
    ];
    const first = keys.map((k) => sharedParams("test-op", k, make));
    expect(new Set(first).size).toBe(keys.length);
    // The same parts again (in new arrays) give the same objects; another op gives new ones.
    const again = keys.map((k) =>
      sharedParams(
        "test-op",
        k.map((p) => (Array.isArray(p) ? [...p] : p)),
        make,
      ),
    );
    for (const [i, p] of again.entries()) expect(p).toBe(first[i]);
    for (const [i, k] of keys.entries()) expect(sharedParams("test-op", k, make)).toBe(first[i]);
    expect(sharedParams("other-op", keys[0]!, make)).not.toBe(first[0]);
    // A part that is not a name is never keyed: made afresh each time.
    const bad = sharedParams("test-op", ["A-B"], make);
    expect(sharedParams("test-op", ["A-B"], make)).not.toBe(bad);
    expect(sharedParams("test-op", [["A", "1x"]], make)).not.toBe(
      sharedParams("test-op", [["A", "1x"]], make),
    );
  });

  it("keeps −0 and +0 literals apart", () => {
    const p = trace((t) => add(add(t.a, -0), 0), { a: tensor("[B]", "f32") }, { B: 2 });
    const [first, second] = p.eqns;
    const value = (e: Eqn | undefined) => {
      const l = e?.inputs[1];
      return l?.kind === "literal" ? l.value : undefined;
    };
    expect(Object.is(value(first), -0)).toBe(true);
    expect(Object.is(value(second), 0)).toBe(true);
  });
});
