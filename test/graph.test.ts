import {
  fuse,
  fusionGraph,
  isTopologicallyOrdered,
  lastUses,
  param,
  programGraph,
  tensor,
  toDot,
  topologicalOrder,
  trace,
} from "@shardcost/core";
import { einsum, mul, silu } from "@shardcost/ops";
import { describe, expect, it } from "vitest";

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
