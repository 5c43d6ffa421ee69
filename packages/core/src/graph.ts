import { alg, Graph } from "@dagrejs/graphlib";
import type { Program } from "./ir.js";

/**
 * Def-use facts of a program for analyses (fusion, liveness, cost), and a graphlib view of it:
 * one node per equation ("e<i>"), one edge per value flowing from producer to consumer. The
 * graphlib graph is built on first use, since the estimator's hot path needs only the maps.
 */
export interface ProgramGraph {
  /** One more than the largest var id: the length of the per-var arrays below. */
  readonly varCount: number;
  /** Equation index that produces each var id, −1 for inputs. */
  readonly producer: Int32Array;
  /** Equation indices that read each var id, in program order, without repeats. */
  readonly consumers: readonly (readonly number[])[];
  /** 1 for var ids the program returns. */
  readonly isOutput: Uint8Array;
  readonly graph: Graph;
}

export const eqnNode = (i: number) => `e${i}`;

const NONE: readonly number[] = Object.freeze([]);

const varCounts = new WeakMap<Program, number>();

/** One more than the largest var id of a program (passes ask often; programs never change). */
export function varCountOf(program: Program): number {
  const known = varCounts.get(program);
  if (known !== undefined) return known;
  let max = -1;
  const { inputs, eqns } = program;
  for (let i = 0; i < inputs.length; i++) max = Math.max(max, inputs[i]!.var.id);
  for (let e = 0; e < eqns.length; e++) {
    const outputs = eqns[e]!.outputs;
    for (let o = 0; o < outputs.length; o++) max = Math.max(max, outputs[o]!.id);
  }
  varCounts.set(program, max + 1);
  return max + 1;
}

/**
 * Def-use facts of a program (producers, consumers, outputs by var id) and a graphlib view for
 * analyses.
 */
export function programGraph(program: Program): ProgramGraph {
  const varCount = varCountOf(program);
  const producer = new Int32Array(varCount).fill(-1);
  const consumers: number[][] = new Array(varCount);
  const eqns = program.eqns;
  for (let i = 0; i < eqns.length; i++) {
    const eqn = eqns[i]!;
    const inputs = eqn.inputs;
    for (let k = 0; k < inputs.length; k++) {
      const a = inputs[k]!;
      if (a.kind !== "var") continue;
      const list = consumers[a.id];
      if (list === undefined) consumers[a.id] = [i];
      else if (list[list.length - 1] !== i) list.push(i);
    }
    const outputs = eqn.outputs;
    for (let k = 0; k < outputs.length; k++) producer[outputs[k]!.id] = i;
  }
  for (let v = 0; v < varCount; v++)
    if (consumers[v] === undefined) consumers[v] = NONE as number[];
  const isOutput = new Uint8Array(varCount);
  for (const o of program.outputs) isOutput[o.var.id] = 1;
  let graph: Graph | undefined;
  return {
    varCount,
    producer,
    consumers,
    isOutput,
    get graph() {
      graph ??= toGraphlib(program, producer);
      return graph;
    },
  };
}

function toGraphlib(program: Program, producer: Int32Array): Graph {
  const g = new Graph({ directed: true });
  program.eqns.forEach((eqn, i) => {
    g.setNode(eqnNode(i), i);
    for (const a of eqn.inputs) {
      const p = a.kind === "var" ? producer[a.id]! : -1;
      if (p >= 0) g.setEdge(eqnNode(p), eqnNode(i));
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
  return g.consumers.every((readers, v) => readers.every((r) => r > g.producer[v]!));
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
  g.consumers.forEach((readers, v) => {
    let max = -1;
    for (const r of readers) max = Math.max(max, position.get(r)!);
    last.set(v, g.isOutput[v] ? order.length : max);
  });
  return last;
}
