import { alg, Graph } from "@dagrejs/graphlib";
import type { Program } from "./ir.js";

/**
 * Def-use facts of a program for analyses (fusion, liveness, cost), and a graphlib view of it:
 * one node per equation ("e<i>"), one edge per value flowing from producer to consumer. The
 * facts the passes walk are flat typed arrays (lists as offsets into one array: the items of
 * list `k` are `items[start[k]]` up to `items[start[k + 1]]`), so a million-equation program
 * holds a few arrays rather than a small array per value; `consumers` and the graphlib graph
 * are built on first use.
 */
export interface ProgramGraph {
  /** One more than the largest var id: the length of the per-var arrays below. */
  readonly varCount: number;
  /** Equation index that produces each var id, −1 for inputs. */
  readonly producer: Int32Array;
  /** The equations that read each var: `readers` from `readerStart[v]`, in order, no repeats. */
  readonly readerStart: Int32Array;
  readonly readers: Int32Array;
  /** The var ids each equation reads, in operand order (−1 for a literal operand). */
  readonly operandStart: Int32Array;
  readonly operands: Int32Array;
  /** The var ids each equation writes, in result order. */
  readonly resultStart: Int32Array;
  readonly results: Int32Array;
  /** Equation indices that read each var id, in program order, without repeats (as arrays). */
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
 * Records the var count of a program whose builder knows it (one more than its largest var id),
 * so that no pass walks a million equations to find it again. Lowering does: its program holds
 * every traced var and numbers the ones it adds from the traced count up.
 */
export function knownVarCount(program: Program, count: number): void {
  varCounts.set(program, count);
}

/**
 * `a`, or a copy of its first `used` items with room for `need` (at least twice as long): the
 * passes' growing lists of ids (internal to the package).
 */
export function room(
  a: Int32Array<ArrayBuffer>,
  used: number,
  need: number,
): Int32Array<ArrayBuffer> {
  if (need <= a.length) return a;
  const grown = new Int32Array(Math.max(need, a.length * 2));
  grown.set(a.subarray(0, used));
  return grown;
}

/**
 * Def-use facts of a program (producers, readers, operands and results, outputs by var id) and
 * a graphlib view for analyses.
 */
export function programGraph(program: Program): ProgramGraph {
  const varCount = varCountOf(program);
  const eqns = program.eqns;
  const n = eqns.length;
  const producer = new Int32Array(varCount).fill(-1);
  // One walk over the equations; everything after reads these arrays only.
  const operandStart = new Int32Array(n + 1);
  const resultStart = new Int32Array(n + 1);
  // Sized for what the ops make (one or two operands, one result), so they seldom grow (and
  // are copied).
  let operands = new Int32Array(2 * n + (n >> 1) + 8);
  let results = new Int32Array(n + (n >> 3) + 8);
  let nOperands = 0;
  let nResults = 0;
  for (let i = 0; i < n; i++) {
    const eqn = eqns[i]!;
    const inputs = eqn.inputs;
    operands = room(operands, nOperands, nOperands + inputs.length);
    for (let k = 0; k < inputs.length; k++) {
      const a = inputs[k]!;
      operands[nOperands++] = a.kind === "var" ? a.id : -1;
    }
    operandStart[i + 1] = nOperands;
    const outputs = eqn.outputs;
    results = room(results, nResults, nResults + outputs.length);
    for (let k = 0; k < outputs.length; k++) {
      const id = outputs[k]!.id;
      results[nResults++] = id;
      producer[id] = i;
    }
    resultStart[i + 1] = nResults;
  }
  // Readers by var: counted, then placed (an equation reading a var twice reads it once).
  const readerStart = new Int32Array(varCount + 1);
  const last = new Int32Array(varCount).fill(-1);
  for (let i = 0; i < n; i++) {
    for (let k = operandStart[i]!; k < operandStart[i + 1]!; k++) {
      const v = operands[k]!;
      if (v < 0 || last[v] === i) continue;
      last[v] = i;
      readerStart[v + 1]!++;
    }
  }
  for (let v = 0; v < varCount; v++) readerStart[v + 1]! += readerStart[v]!;
  const readers = new Int32Array(readerStart[varCount]!);
  // Placed with each var's start as its cursor (it ends at the next var's start), then shifted
  // back: no second array of cursors.
  last.fill(-1);
  for (let i = 0; i < n; i++) {
    for (let k = operandStart[i]!; k < operandStart[i + 1]!; k++) {
      const v = operands[k]!;
      if (v < 0 || last[v] === i) continue;
      last[v] = i;
      readers[readerStart[v]!++] = i;
    }
  }
  for (let v = varCount; v > 0; v--) readerStart[v] = readerStart[v - 1]!;
  readerStart[0] = 0;
  const isOutput = new Uint8Array(varCount);
  for (const o of program.outputs) isOutput[o.var.id] = 1;
  let graph: Graph | undefined;
  let consumers: (readonly number[])[] | undefined;
  return {
    varCount,
    producer,
    readerStart,
    readers,
    operandStart,
    operands: operands.subarray(0, nOperands),
    resultStart,
    results: results.subarray(0, nResults),
    isOutput,
    get consumers() {
      if (consumers === undefined) {
        consumers = new Array(varCount);
        for (let v = 0; v < varCount; v++) {
          const from = readerStart[v]!;
          const to = readerStart[v + 1]!;
          consumers[v] = from === to ? NONE : Array.from(readers.subarray(from, to));
        }
      }
      return consumers;
    },
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
