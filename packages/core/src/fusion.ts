import { type ProgramGraph, programGraph } from "./graph.js";
import type { Program } from "./ir.js";
import { fusionKind } from "./primitives.js";

/** Equations that run as one kernel: they read their external inputs and write once. */
export interface FusionGroup {
  readonly id: number;
  /** Member equation indices, ascending. */
  readonly eqns: readonly number[];
  /** The equation whose result the group exists to produce (its last). */
  readonly root: number;
  /** The einsum/gather/slice/attention kernel inside, if any; it sets the compute dtype. */
  readonly kernel: number | undefined;
}

export interface Fusion {
  readonly groups: readonly FusionGroup[];
  /** For each equation, the groups it runs in (several for a duplicated cast or rename). */
  readonly groupsOf: readonly (readonly number[])[];
}

interface Draft {
  eqns: Set<number>;
  root: number;
  kernel: number | undefined;
}

/**
 * Groups equations into kernels the way XLA's fusion does for these programs, walking
 * consumers before producers:
 * - casts, renames, splits, merges and sharding constraints are free: they fuse into every
 *   consumer, einsums included (so int8 weights feeding a bf16 einsum are read at 1 byte);
 * - elementwise ops and reductions fuse with each other into one loop when all their
 *   consumers sit in the same loop (so silu·mul writes only the product, and a softmax reads
 *   its scores once and writes its probabilities once);
 * - dynamic slices and concatenations loop-fuse like elementwise ops (a slice reads only its
 *   window);
 * - einsums, gathers, in-place updates and flash attention are kernels of their own;
 *   elementwise producers of an einsum stay outside it and go through HBM;
 * - anything that is a program output, or read by several kernels, is written to HBM.
 */
export function fuse(program: Program, graph: ProgramGraph = programGraph(program)): Fusion {
  const n = program.eqns.length;
  const drafts: Draft[] = [];
  const groupsOf: number[][] = Array.from({ length: n }, () => []);
  const newGroup = (i: number, kernel: boolean): void => {
    groupsOf[i]!.push(drafts.length);
    drafts.push({ eqns: new Set([i]), root: i, kernel: kernel ? i : undefined });
  };
  for (let i = n - 1; i >= 0; i--) {
    const eqn = program.eqns[i]!;
    const kind = fusionKind[eqn.primitive];
    if (kind === "kernel") {
      newGroup(i, true);
      continue;
    }
    const targets = new Set<number>();
    let escapes = false;
    for (const v of eqn.outputs) {
      if (graph.outputs.has(v.id)) escapes = true;
      for (const c of graph.consumers.get(v.id) ?? []) for (const g of groupsOf[c]!) targets.add(g);
    }
    if (escapes || targets.size === 0) {
      newGroup(i, false);
      continue;
    }
    if (kind === "passthrough") {
      for (const g of targets) {
        drafts[g]!.eqns.add(i);
        groupsOf[i]!.push(g);
      }
      continue;
    }
    const [only] = targets;
    if (targets.size === 1 && drafts[only!]!.kernel === undefined) {
      drafts[only!]!.eqns.add(i);
      groupsOf[i]!.push(only!);
    } else {
      newGroup(i, false);
    }
  }
  // Drafts were made consumers-first; number groups in execution order of their roots.
  const order = drafts.map((_, g) => g).sort((a, b) => drafts[a]!.root - drafts[b]!.root);
  const renumber = new Map(order.map((g, k) => [g, k]));
  const groups = order.map((g, k) => {
    const d = drafts[g]!;
    return {
      id: k,
      eqns: [...d.eqns].sort((a, b) => a - b),
      root: d.root,
      kernel: d.kernel,
    } satisfies FusionGroup;
  });
  return {
    groups,
    groupsOf: groupsOf.map((gs) => gs.map((g) => renumber.get(g)!).sort((a, b) => a - b)),
  };
}
