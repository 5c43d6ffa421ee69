import { alg, Graph } from "@dagrejs/graphlib";
import type { Program } from "./ir.js";

/**
 * Def-use facts of a program for analyses (fusion, liveness, cost), and a graphlib view of it:
 * one node per equation ("e<i>"), one edge per value flowing from producer to consumer. The
 * graphlib graph is built on first use, since the estimator's hot path needs only the maps.
 */
export interface ProgramGraph {
  /** Equation index that produces each var id (inputs have none). */
  readonly producer: ReadonlyMap<number, number>;
  /** Equation indices that read each var id, in program order, without repeats. */
  readonly consumers: ReadonlyMap<number, readonly number[]>;
  /** Var ids the program returns. */
  readonly outputs: ReadonlySet<number>;
  readonly graph: Graph;
}

export const eqnNode = (i: number) => `e${i}`;

export function programGraph(program: Program): ProgramGraph {
  const producer = new Map<number, number>();
  const consumers = new Map<number, number[]>();
  program.eqns.forEach((eqn, i) => {
    for (const a of eqn.inputs) {
      if (a.kind !== "var") continue;
      const list = consumers.get(a.id);
      if (!list) consumers.set(a.id, [i]);
      else if (list[list.length - 1] !== i) list.push(i);
    }
    for (const v of eqn.outputs) producer.set(v.id, i);
  });
  let graph: Graph | undefined;
  return {
    producer,
    consumers,
    outputs: new Set(program.outputs.map((o) => o.var.id)),
    get graph() {
      graph ??= toGraphlib(program, producer);
      return graph;
    },
  };
}

function toGraphlib(program: Program, producer: ReadonlyMap<number, number>): Graph {
  const g = new Graph({ directed: true });
  program.eqns.forEach((eqn, i) => {
    g.setNode(eqnNode(i), i);
    for (const a of eqn.inputs) {
      const p = a.kind === "var" ? producer.get(a.id) : undefined;
      if (p !== undefined) g.setEdge(eqnNode(p), eqnNode(i));
    }
  });
  return g;
}

/** Equation indices in a topological order of the graph (dependencies first). */
export function topologicalOrder(g: ProgramGraph): number[] {
  return alg.topsort(g.graph).map((n) => g.graph.node(n) as number);
}

/** Whether the equation list is itself a valid execution order (every value defined first). */
export function isTopologicallyOrdered(g: ProgramGraph): boolean {
  for (const [v, readers] of g.consumers) {
    const p = g.producer.get(v);
    if (p !== undefined && readers.some((r) => r <= p)) return false;
  }
  return true;
}

/**
 * For each var, the position (in `order`) of the last equation that reads it; program outputs
 * live to the end (position = order.length).
 */
export function lastUses(g: ProgramGraph, order: readonly number[]): Map<number, number> {
  const position = new Map<number, number>();
  order.forEach((e, pos) => {
    position.set(e, pos);
  });
  const last = new Map<number, number>();
  for (const [v, readers] of g.consumers) {
    let max = -1;
    for (const r of readers) max = Math.max(max, position.get(r)!);
    last.set(v, max);
  }
  for (const v of g.outputs) last.set(v, order.length);
  return last;
}
