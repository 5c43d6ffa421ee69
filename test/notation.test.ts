import { fc, test } from "@fast-check/vitest";
import {
  checkSharding,
  NotationError,
  parseSharding,
  printSharding,
  type Sharding,
  tensor,
} from "@shardcost/core";
import { describe, expect, it } from "vitest";

const SEED = 20261122;
const DIMS = ["B", "T", "S", "D", "F", "N", "K", "G", "H", "V", "L", "E", "Hh", "D2"];
const AXES = ["X", "Y", "Z", "W", "P", "Q"];

/** Random valid shardings: distinct dims, each mesh axis used at most once overall. */
const shardingArb: fc.Arbitrary<Sharding> = fc
  .record({
    name: fc.option(fc.stringMatching(/^[A-Za-z][A-Za-z0-9_.]{0,6}$/), { nil: undefined }),
    dims: fc.uniqueArray(fc.constantFrom(...DIMS), { maxLength: 5 }),
    axes: fc.shuffledSubarray(AXES),
    cuts: fc.array(fc.nat(6), { minLength: 6, maxLength: 6 }),
  })
  .map(({ name, dims, axes, cuts }) => {
    // Deal the chosen axes out to the dims (and the rest to the partial sums) by the cuts.
    let next = 0;
    const take = (n: number) => {
      const got = axes.slice(next, next + n);
      next += got.length;
      return got;
    };
    const ds = dims.map((dim, i) => ({ dim, axes: take(cuts[i]! % 3) }));
    const partial = take(cuts[5]! % 3);
    return name === undefined ? { dims: ds, partial } : { name, dims: ds, partial };
  });

describe("sharding notation", () => {
  it("parses the book's examples", () => {
    expect(parseSharding("Win[D_X, F_YZ]")).toEqual({
      name: "Win",
      dims: [
        { dim: "D", axes: ["X"] },
        { dim: "F", axes: ["Y", "Z"] },
      ],
      partial: [],
    });
    expect(parseSharding("[B, D_X]")).toEqual({
      dims: [
        { dim: "B", axes: [] },
        { dim: "D", axes: ["X"] },
      ],
      partial: [],
    });
    expect(printSharding(parseSharding("Out[ B ,F_Y ] { U_X }"))).toBe("Out[B, F_Y]{U_X}");
    expect(parseSharding("pos[]")).toEqual({ name: "pos", dims: [], partial: [] });
  });

  test.prop([shardingArb], { seed: SEED, numRuns: 500 })(
    "print then parse is the identity on valid specs",
    (s) => {
      const text = printSharding(s);
      expect(parseSharding(text)).toEqual(s);
      expect(printSharding(parseSharding(text))).toBe(text);
    },
  );

  const noise = fc.string({ unit: fc.constantFrom(..."[]{}_,. XYZBDFU0aé-".split("")) });
  test.prop([fc.oneof(fc.string(), noise)], { seed: SEED, numRuns: 1000 })(
    "random strings either parse or raise NotationError quoting the text",
    (text) => {
      try {
        parseSharding(text);
      } catch (e) {
        expect(e).toBeInstanceOf(NotationError);
        expect((e as NotationError).text).toBe(text);
        expect((e as Error).message).toContain(text);
      }
    },
  );

  test.prop([shardingArb, fc.nat(), fc.constantFrom(..."[]{},_ X")], { seed: SEED, numRuns: 500 })(
    "a valid spec with one character inserted parses back to a valid spec or raises NotationError",
    (s, at, ch) => {
      const text = printSharding(s);
      const k = at % (text.length + 1);
      const mutated = text.slice(0, k) + ch + text.slice(k);
      try {
        const parsed = parseSharding(mutated);
        expect(parseSharding(printSharding(parsed))).toEqual(parsed);
      } catch (e) {
        expect(e).toBeInstanceOf(NotationError);
      }
    },
  );

  it.each([
    ["Win[D_X, F_XZ]", /mesh axis X is used twice/],
    ["Win[D_X, F]{U_X}", /mesh axis X is used twice/],
    ["Win[D, D]", /dim D appears twice/],
    ["Win[D_x]", /not a dim entry/],
    ["Win D, F", /expected NAME\[/],
    ["Win[D]{X}", /partial sums are written/],
    ["W-in[D]", /not a tensor name/],
  ])("rejects %s", (text, why) => {
    expect(() => parseSharding(text)).toThrow(NotationError);
    expect(() => parseSharding(text)).toThrow(why);
  });
});

describe("shardings built as data", () => {
  test.prop([shardingArb], { seed: SEED, numRuns: 200 })(
    "a valid sharding checks as itself, and parses from its print",
    (s) => {
      expect(checkSharding({ ...s })).toEqual(s);
      expect(parseSharding(printSharding(s))).toEqual(checkSharding({ ...s }));
    },
  );

  it("breaking a rule notation obeys is a NotationError that prints the sharding", () => {
    const twice = {
      dims: [
        { dim: "B", axes: ["X"] },
        { dim: "D", axes: ["X"] },
      ],
      partial: [],
    };
    expect(() => checkSharding(twice)).toThrow(NotationError);
    expect(() => checkSharding(twice)).toThrow(/\[B_X, D_X\].*mesh axis X is used twice/);
    const lower = { dims: [{ dim: "B", axes: ["x"] }], partial: [] };
    expect(() => checkSharding(lower)).toThrow(/"x" is not a mesh axis/);
    const dup = {
      dims: [
        { dim: "B", axes: [] },
        { dim: "B", axes: [] },
      ],
      partial: [],
    };
    expect(() => checkSharding(dup)).toThrow(/dim B appears twice/);
    // The same checks reach tensor() and shard().
    expect(() => tensor(twice)).toThrow(/mesh axis X is used twice/);
  });
});
