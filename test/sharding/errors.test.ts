import { fc, test } from "@fast-check/vitest";
import { NotationError, OpError, param, type ShardcostError, tensor, trace } from "@shardcost/core";
import { einsum, shard } from "@shardcost/ops";
import { lower, mesh, ShardingError } from "@shardcost/sharding";
import { describe, expect, it } from "vitest";

const m = mesh("v5e", { X: 4, Y: 2 });
const THIS_FILE = /test\/sharding\/errors\.test\.ts:\d+/;

function lowering(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error("no error");
}

describe("bad shardings are typed errors naming tensor, op, spec and line", () => {
  it("an axis the mesh lacks", () => {
    const program = trace((x) => x, tensor("x[B_Q, D]"), { B: 8, D: 8 });
    const e = lowering(() => lower(program, m));
    expect(e).toBeInstanceOf(ShardingError);
    expect(e.message).toBe("input x bf16[B_Q, D]: the mesh has no axis Q (its axes: X, Y)");
  });

  it("a dim not divisible by its axes' sizes", () => {
    const program = trace((x) => x, tensor("x[B_XY, D]"), { B: 12, D: 8 });
    const e = lowering(() => lower(program, m));
    expect((e as ShardcostError).code).toBe("sharding");
    expect(e.message).toContain("dim B=12 is not divisible by its axes XY (8 devices)");
  });

  it("a constraint that does not fit the mesh names the op and the user's line", () => {
    const program = trace((x) => shard(x, "[B, D_Z]"), tensor("x[B, D]"), { B: 8, D: 8 });
    const e = lowering(() => lower(program, m));
    expect(e.message).toContain("shard[[B, D_Z]]: constraint bf16[B, D_Z]: the mesh has no axis Z");
    expect(e.message).toMatch(THIS_FILE);
  });

  it("an axis used twice", () => {
    expect(() => tensor("x[B_X, D_X]")).toThrow(NotationError);
    const e = lowering(() =>
      trace((x) => shard(x, "[B_X, D_X]"), tensor("x[B, D]"), { B: 8, D: 8 }),
    );
    expect(e).toBeInstanceOf(OpError);
    expect(e.message).toContain("mesh axis X is used twice");
    expect(e.message).toMatch(THIS_FILE);
  });

  it("an ambiguous partial sum lists the choices", () => {
    const program = trace(
      (t) => einsum("BD,DF->BF", t.x, t.w),
      { x: tensor("x[B, D_X]"), w: param("W[D_X, F]") },
      { B: 8, D: 8, F: 8 },
    );
    const e = lowering(() => lower(program, m));
    expect((e as ShardcostError).code).toBe("ambiguous");
    expect(e.message).toContain(
      "output out = a:bf16[B, F]{U_X} (made by einsum[BD,DF->BF]) is a partial sum over X: " +
        "AllReduce_X → bf16[B, F], ReduceScatter_X onto B → bf16[B_X, F], " +
        "ReduceScatter_X onto F → bf16[B, F_X], keep {U_X} — say which with shard()",
    );
    expect(e.message).toMatch(THIS_FILE);
  });

  it("a constraint that asks for partial sums a value does not hold", () => {
    const program = trace((x) => shard(x, "[B, D]{U_X}"), tensor("x[B, D]"), { B: 8, D: 8 });
    const e = lowering(() => lower(program, m));
    expect(e.message).toContain("holds no partial sums over X");
  });

  const axis = fc.constantFrom("X", "Y", "Z", "W");
  test.prop([axis, axis, fc.constantFrom(3, 4, 6, 8)], { seed: 7, numRuns: 200 })(
    "random shardings either lower or raise a ShardingError",
    (a, b, size) => {
      const spec = a === b ? `x[B_${a}, D]` : `x[B_${a}, D_${b}]`;
      const program = trace((x) => shard(x, "[B, D]"), tensor(spec), { B: size, D: 8 });
      try {
        lower(program, m);
      } catch (e) {
        expect(e).toBeInstanceOf(ShardingError);
      }
    },
  );
});
