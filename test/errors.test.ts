import {
  NotationError,
  OpError,
  ShardcostError,
  type TensorSpec,
  type Tracer,
  tensor,
  trace,
} from "@shardcost/core";
import { add, einsum, exp, shard, split, sum } from "@shardcost/ops";
import { describe, expect, it } from "vitest";

/** Runs a trace expected to fail and returns the error. */
function failure(
  fn: (x: Record<string, Tracer>) => Tracer,
  inputs: Record<string, TensorSpec>,
  dims: Record<string, number>,
) {
  try {
    trace(fn, inputs, dims);
  } catch (e) {
    return e as Error;
  }
  throw new Error("the trace did not fail");
}

const THIS_FILE = /test\/errors\.test\.ts:\d+/;

describe("bad input gives a typed error naming the op, the tensors and the user's line", () => {
  it("einsum whose operand dims don't match the spec", () => {
    const e = failure(
      (x) => einsum("BD,DF->BF", x.x!, x.w!),
      { x: tensor("x[B, D]"), w: tensor("W[D, E]") },
      { B: 2, D: 4, E: 3, F: 5 },
    );
    expect(e).toBeInstanceOf(OpError);
    expect((e as OpError).code).toBe("einsum");
    expect(e.message).toMatch(
      /^einsum: spec BD,DF->BF: operand 2 is written DF but has dims \[D, E\]/,
    );
    expect(e.message).toContain("operands: x:bf16[B, D], W:bf16[D, E]");
    expect(e.message).toMatch(THIS_FILE);
  });

  it("an einsum spec that is not one", () => {
    const e = failure((x) => einsum("BD,DF", x.x!, x.x!), { x: tensor("x[B, D]") }, { B: 2, D: 4 });
    expect(e).toBeInstanceOf(OpError);
    expect(e.message).toContain('spec "BD,DF" needs exactly one "->"');
    expect(e.message).toMatch(THIS_FILE);
  });

  it("an unknown dim in an input's notation", () => {
    const e = failure((x) => x.x!, { x: tensor("x[B, Q]") }, { B: 2 });
    expect(e).toBeInstanceOf(NotationError);
    expect((e as NotationError).code).toBe("unknown-dim");
    expect(e.message).toContain('"x[B, Q]"');
    expect(e.message).toContain("dim Q has no size");
  });

  it("an unknown dim named by an op", () => {
    const e = failure((x) => sum(x.x!, "Z"), { x: tensor("x[B, D]") }, { B: 2, D: 4 });
    expect(e).toBeInstanceOf(OpError);
    expect((e as OpError).code).toBe("unknown-dim");
    expect(e.message).toContain("sum: the operand has no dim Z");
    expect(e.message).toMatch(THIS_FILE);
  });

  it("inconsistent sizes: a split whose parts don't multiply to the dim", () => {
    const e = failure(
      (x) => split(x.q!, "N", { K: 3, G: 3 }),
      { q: tensor("q[B, N]") },
      { B: 2, N: 8 },
    );
    expect((e as OpError).code).toBe("dim-size");
    expect(e.message).toContain("N=8 cannot split into K=3 × G=3");
    expect(e.message).toMatch(THIS_FILE);
  });

  it("inconsistent sizes: an op that resizes a dim the dictionary already sizes", () => {
    const e = failure(
      (x) => split(x.q!, "N", { K: 4, G: 2 }),
      { q: tensor("q[B, N]") },
      { B: 2, N: 8, K: 8 },
    );
    expect((e as OpError).code).toBe("dim-size");
    expect(e.message).toContain("dim K is 8 in the dims dictionary but this op makes it 4");
  });

  it("a dtype an op can't take", () => {
    const e = failure((x) => exp(x.ids!), { ids: tensor("ids[B]", "int32") }, { B: 2 });
    expect((e as OpError).code).toBe("dtype");
    expect(e.message).toContain("exp: the operand is int32");
    expect(e.message).toContain("ids:int32[B]");
    expect(e.message).toMatch(THIS_FILE);
  });

  it("mixed dtypes in a binary op", () => {
    const e = failure(
      (x) => add(x.a!, x.b!),
      { a: tensor("a[B]", "bf16"), b: tensor("b[B]", "f32") },
      { B: 2 },
    );
    expect(e.message).toContain("add: operands have dtypes bf16 and f32; cast one with astype");
  });

  it("a malformed sharding constraint", () => {
    const e = failure((x) => shard(x.x!, "[B_X, D_X]"), { x: tensor("x[B, D]") }, { B: 2, D: 4 });
    expect(e).toBeInstanceOf(OpError);
    expect(e.message).toContain("mesh axis X is used twice");
    expect(e.message).toContain("x:bf16[B, D]");
    expect(e.message).toMatch(THIS_FILE);
  });

  it("a non-tensor operand", () => {
    const e = failure(
      (x) => add(x.x!, undefined as unknown as Tracer),
      { x: tensor("x[B]") },
      { B: 2 },
    );
    expect(e).toBeInstanceOf(OpError);
    expect(e.message).toContain("operand undefined is neither a traced tensor nor a finite number");
  });

  it("bad dims dictionaries and input trees", () => {
    expect(() => trace((x) => x, { x: tensor("x[B]") }, { B: 0 })).toThrow(/positive integers/);
    expect(() => trace((x) => x, { x: tensor("x[B]") }, { B: 2.5 })).toThrow(ShardcostError);
    expect(() => trace((x) => x as never, { x: 5 }, { B: 2 })).toThrow(
      /declare inputs with tensor/,
    );
    expect(() => tensor("x[B]", "bf17" as "bf16")).toThrow(/unknown dtype "bf17"/);
  });
});

describe("with source locations off", () => {
  it("still points errors at the user's line", () => {
    let error: Error | undefined;
    try {
      trace((x) => sum(x, "Z"), tensor("x[B]"), { B: 2 }, { sourceLocations: false });
    } catch (e) {
      error = e as Error;
    }
    expect(error).toBeInstanceOf(OpError);
    expect(error?.message).toMatch(THIS_FILE);
  });

  it("records no locations but the same program", () => {
    const on = trace((x) => sum(x, "B"), tensor("x[B]"), { B: 2 }, { sourceLocations: true });
    const off = trace((x) => sum(x, "B"), tensor("x[B]"), { B: 2 }, { sourceLocations: false });
    expect(off.eqns[0]!.source?.location).toBeUndefined();
    expect(on.eqns[0]!.source?.location).toBeDefined();
    expect(off.eqns.map((e) => e.primitive)).toEqual(on.eqns.map((e) => e.primitive));
  });
});
