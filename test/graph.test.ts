import {
  type Fusion,
  fuse,
  fusionGraph,
  isTopologicallyOrdered,
  lastUses,
  type Program,
  param,
  programGraph,
  runsWithin,
  tensor,
  toDot,
  topologicalOrder,
  trace,
  varCountOf,
} from "@shardcost/core";
import { einsum, LLAMA3_8B, llamaDecode, mul, rename, silu } from "@shardcost/ops";
import { resolveLayout } from "@shardcost/serving";
import { lower, mesh } from "@shardcost/sharding";
import { describe, expect, it } from "vitest";
import { eliminateDeadCode } from "../packages/core/src/dce.js";

const mlp = () =>
  trace(
    (t) =>
      einsum(
        "BF,FD->BD",
        mul(silu(einsum("BD,DF->BF", t.x, t.w1)), einsum("BD,DF->BF", t.x, t.w2)),
        t.w3,
      ),
    {
      x: tensor("x[B, D]"),
      w1: param("W1[D, F]", "int8"),
      w2: param("W2[D, F]", "int8"),
      w3: param("W3[F, D]"),
    },
    { B: 2, D: 4, F: 8 },
  );

describe("graph views", () => {
  it("the traced order is topological, and graphlib agrees", () => {
    const program = mlp();
    const g = programGraph(program);
    expect(isTopologicallyOrdered(g)).toBe(true);
    const order = topologicalOrder(g);
    expect([...order].sort((a, b) => a - b)).toEqual(program.eqns.map((_, i) => i));
    const position = new Map(order.map((e, k) => [e, k]));
    for (const [p, c] of g.graph.edges().map((e) => [g.graph.node(e.v), g.graph.node(e.w)])) {
      expect(position.get(p as number)!).toBeLessThan(position.get(c as number)!);
    }
  });

  it("liveness: a value dies at its last reader; outputs live to the end", () => {
    const program = mlp();
    const g = programGraph(program);
    const order = program.eqns.map((_, i) => i);
    const last = lastUses(g, order);
    const x = program.inputs.find((i) => i.path === "x")!.var.id;
    // x is read by the two up-projections (equations 1 and 4: each after its weight's cast).
    expect(last.get(x)).toBe(4);
    expect(last.get(program.outputs[0]!.var.id)).toBe(order.length);
  });

  it("fusion groups as a graph, and DOT with one cluster per kernel", () => {
    const program = mlp();
    const fusion = fuse(program);
    // Kernels: einsum(+astype), einsum(+astype), mul(+silu), einsum.
    expect(fusion.groups.map((g) => g.eqns.length)).toEqual([2, 2, 2, 1]);
    const fg = fusionGraph(program, fusion);
    expect(fg.nodeCount()).toBe(4);
    expect(
      fg
        .edges()
        .map((e) => `${e.v}->${e.w}`)
        .sort(),
    ).toEqual(["g0->g2", "g1->g2", "g2->g3"]);
    const dot = toDot(program, fusion);
    expect(dot.match(/subgraph cluster_/g)).toHaveLength(4);
    expect(dot).toContain("einsum[BD,DF->BF]");
  });
});

// The def-use facts and the fusion are kept in flat arrays (lists as offsets into one array);
// these check them against what the equations say, read naively.

/** A two-layer LLaMA-3-8B decode step lowered on a v5e 2x4 with 2d-ws: collectives included. */
const lowered8b = (): Program => {
  const m = mesh("v5e", { X: 2, Y: 4 });
  const query = { batch: 8, seq: 1024 };
  const config = { ...LLAMA3_8B, layers: 2 };
  const step = llamaDecode(config, {
    ...query,
    weights: "int8",
    layout: resolveLayout("2d-ws", config, m, query),
  });
  return lower(trace(step.fn, step.inputs, step.dims), m);
};

/** A rename read by two einsums: a free op that runs in two kernels. */
const renamedTwice = () =>
  trace(
    (t) => {
      const y = rename(t.x, "D", "E");
      return [einsum("BE,EF->BF", y, t.w1), einsum("BE,EF->BF", y, t.w2)];
    },
    { x: tensor("x[B, D]"), w1: param("W1[E, F]"), w2: param("W2[E, F]") },
    { B: 2, D: 4, E: 4, F: 8 },
  );

/** Each equation's groups, from the groups' member lists. */
const groupsFromMembers = (program: Program, fusion: Fusion) => {
  const of: number[][] = program.eqns.map(() => []);
  for (const g of fusion.groups) for (const e of g.eqns) of[e]!.push(g.id);
  return of;
};

describe("flat def-use facts and fusion", () => {
  it("operands, results and readers equal the equations' own, for every program shape used", () => {
    const programs = [mlp(), renamedTwice(), lowered8b()];
    const seen = { literal: false, readTwice: false, collective: false, unread: false };
    for (const program of programs) {
      const g = programGraph(program);
      const readers: number[][] = Array.from({ length: g.varCount }, () => []);
      program.eqns.forEach((eqn, i) => {
        const operands = eqn.inputs.map((a) => (a.kind === "var" ? a.id : -1));
        expect([...g.operands.subarray(g.operandStart[i], g.operandStart[i + 1])]).toEqual(
          operands,
        );
        expect([...g.results.subarray(g.resultStart[i], g.resultStart[i + 1])]).toEqual(
          eqn.outputs.map((o) => o.id),
        );
        for (const o of eqn.outputs) expect(g.producer[o.id]).toBe(i);
        for (const v of operands) if (v >= 0 && readers[v]!.at(-1) !== i) readers[v]!.push(i);
        if (operands.includes(-1)) seen.literal = true;
        if (new Set(operands).size < operands.length) seen.readTwice = true;
        if (eqn.primitive.startsWith("all_") || eqn.primitive === "reduce_scatter") {
          seen.collective = true;
        }
      });
      for (let v = 0; v < g.varCount; v++) {
        const flat = [...g.readers.subarray(g.readerStart[v], g.readerStart[v + 1])];
        expect(flat).toEqual(readers[v]);
        expect(g.consumers[v]).toEqual(readers[v]);
        if (readers[v]!.length === 0) seen.unread = true;
      }
    }
    // The paths the flat lists must get right were all taken.
    expect(seen).toEqual({ literal: true, readTwice: true, collective: true, unread: true });
  });

  it("each equation's groups equal the groups that list it, a free op in several included", () => {
    let several = 0;
    for (const program of [mlp(), renamedTwice(), lowered8b()]) {
      const graph = programGraph(program);
      const fusion = fuse(program, graph);
      const expected = groupsFromMembers(program, fusion);
      const wrong: string[] = [];
      fusion.groups.forEach((g, id) => {
        expect(g.id).toBe(id);
        expect(g.eqns).toEqual([...g.eqns].sort((a, b) => a - b));
        expect(g.eqns.at(-1)).toBe(g.root);
      });
      program.eqns.forEach((_, i) => {
        expect(fusion.groupsOf[i]).toEqual(expected[i]);
        const entry = fusion.groupOf[i]!;
        expect(entry >= 0 ? [entry] : fusion.several[-1 - entry]).toEqual(expected[i]);
        if (expected[i]!.length > 1) several++;
        // runsWithin(c, i): every group c runs in is one of i's.
        for (let c = 0; c < program.eqns.length; c++) {
          const within = expected[c]!.every((x) => expected[i]!.includes(x));
          if (runsWithin(fusion, c, i) !== within) wrong.push(`${c} within ${i}`);
        }
      });
      expect(wrong).toEqual([]);
    }
    expect(several).toBeGreaterThan(0);
  });
});

describe("dead code", () => {
  it("drops equations no output needs, keeps the rest in order, and leaves a live program as is", () => {
    const inputs = { x: tensor("x[B, D]"), w: param("W[D, F]") };
    const dims = { B: 2, D: 4, F: 8 };
    const program = trace(
      (t) => {
        const h = einsum("BD,DF->BF", t.x, t.w);
        silu(einsum("BD,DF->BF", t.x, t.w)); // unused: dead, with the einsum only it reads
        return mul(h, h);
      },
      inputs,
      dims,
    );
    const live = eliminateDeadCode(program);
    expect(program.eqns.map((e) => e.primitive)).toEqual(["einsum", "einsum", "silu", "mul"]);
    expect(live.eqns).toEqual([program.eqns[0], program.eqns[3]]);
    expect(eliminateDeadCode(live)).toBe(live);
  });
});

describe("var counts lowering records", () => {
  it("equal one more than the largest var id, with collectives and combined attention added", () => {
    const m = mesh("v5e", { X: 4, Y: 4 });
    const config = { ...LLAMA3_8B, layers: 2 };
    const layouts = ["1d-ws", "2d-ws", "weight-gathered", "fsdp"] as const;
    let combined = 0;
    let collectives = 0;
    // Batch 1 splits the cache's positions (flash-decoding: attention combined across chips).
    for (const [layout, batch] of layouts.flatMap((l) => [1, 4].map((b) => [l, b] as const))) {
      const query = { batch, seq: 1024 };
      for (const attention of ["naive", "flash"] as const) {
        const step = llamaDecode(config, {
          ...query,
          attention,
          layout: resolveLayout(layout, config, m, query),
        });
        const traced = trace(step.fn, step.inputs, step.dims);
        const lowered = lower(traced, m);
        let max = -1;
        for (const i of lowered.inputs) max = Math.max(max, i.var.id);
        for (const e of lowered.eqns) for (const o of e.outputs) max = Math.max(max, o.id);
        expect(varCountOf(lowered)).toBe(max + 1);
        combined += lowered.eqns.filter((e) => e.note?.startsWith("combine over")).length;
        collectives += lowered.eqns.length - traced.eqns.length;
      }
    }
    // Both ways lowering adds vars were taken.
    expect(collectives).toBeGreaterThan(0);
    expect(combined).toBeGreaterThan(0);
  });
});
