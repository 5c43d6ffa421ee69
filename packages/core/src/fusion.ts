import { eliminateDeadCode } from "./dce.js";
import { bitsOf } from "./dtype.js";
import { type ProgramGraph, programGraph } from "./graph.js";
import type { Program } from "./ir.js";
import { fusionKind, Primitive } from "./primitives.js";
import { printOp, printVar } from "./printer.js";

/** Equations that run as one kernel: they read their external inputs and write once. */
export interface FusionGroup {
  readonly id: number;
  /** Member equation indices, ascending. */
  readonly eqns: readonly number[];
  /** The equation whose result the group exists to produce (its last). */
  readonly root: number;
  /** The einsum/gather/update/attention kernel inside, if any; it sets the compute dtype. */
  readonly kernel: number | undefined;
}

/** The fusion pass's grouping: kernels of equations, and the kernels each equation runs in. */
export interface Fusion {
  readonly groups: readonly FusionGroup[];
  /** For each equation, the groups it runs in (several for a duplicated cast or rename). */
  readonly groupsOf: readonly (readonly number[])[];
}

/** A group being built: its `id` is set once groups are numbered in execution order. */
interface Draft {
  id: number;
  readonly eqns: number[];
  readonly root: number;
  readonly kernel: number | undefined;
}

/**
 * Groups equations into kernels the way XLA's fusion does for these programs, walking
 * consumers before producers:
 * - casts, renames, splits, merges and sharding constraints are free: they fuse into every
 *   consumer, einsums included (so int8 weights feeding a bf16 einsum are read at 1 byte) —
 *   except a narrowing cast of a loop's result read by a kernel or several groups, which ends
 *   that loop (`narrowsLoopOutput`: the loop writes the narrow type once);
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
  // Each draft's one-element list of groups, shared by every equation only it runs.
  const singles: number[][] = [];
  // Equations in several groups, each with its own list.
  const several: number[] = [];
  const groupsOf: number[][] = new Array(n);
  const newGroup = (i: number, kernel: boolean): void => {
    const single = [drafts.length];
    groupsOf[i] = single;
    singles.push(single);
    drafts.push({ id: drafts.length, eqns: [i], root: i, kernel: kernel ? i : undefined });
  };
  const targets: number[] = [];
  for (let i = n - 1; i >= 0; i--) {
    const eqn = program.eqns[i]!;
    const kind = fusionKind[eqn.primitive];
    if (kind === "kernel" || kind === "collective") {
      newGroup(i, true);
      continue;
    }
    targets.length = 0;
    let escapes = false;
    // Indexed loops: this runs once per program, much of it before it is optimized, where
    // `for…of` allocates an iterator result per step.
    const outputs = eqn.outputs;
    for (let o = 0; o < outputs.length; o++) {
      const id = outputs[o]!.id;
      if (graph.isOutput[id]) escapes = true;
      const readers = graph.consumers[id]!;
      for (let r = 0; r < readers.length; r++) {
        const gs = groupsOf[readers[r]!]!;
        for (let j = 0; j < gs.length; j++) if (!targets.includes(gs[j]!)) targets.push(gs[j]!);
      }
    }
    if (
      escapes ||
      targets.length === 0 ||
      narrowsLoopOutput(program, graph, eqn, targets, drafts)
    ) {
      newGroup(i, false);
    } else if (kind === "passthrough") {
      if (targets.length === 1) groupsOf[i] = singles[targets[0]!]!;
      else {
        groupsOf[i] = targets.slice();
        several.push(i);
      }
      for (let j = 0; j < targets.length; j++) drafts[targets[j]!]!.eqns.push(i);
    } else if (targets.length === 1 && drafts[targets[0]!]!.kernel === undefined) {
      groupsOf[i] = singles[targets[0]!]!;
      drafts[targets[0]!]!.eqns.push(i);
    } else {
      newGroup(i, false);
    }
  }
  // Drafts were made consumers-first (members pushed in descending order); number groups in
  // execution order of their roots.
  const last = drafts.length - 1;
  const groups: FusionGroup[] = new Array(drafts.length);
  for (let g = 0; g <= last; g++) {
    const d = drafts[g]!;
    d.id = last - g;
    d.eqns.reverse();
    singles[g]![0] = last - g;
    groups[last - g] = d;
  }
  for (let e = 0; e < several.length; e++) {
    const gs = groupsOf[several[e]!]!;
    // Renumbered, then ascending (a few groups: insertion sort, no comparator or scratch).
    for (let j = 0; j < gs.length; j++) gs[j] = last - gs[j]!;
    for (let j = 1; j < gs.length; j++) {
      const g = gs[j]!;
      let k = j - 1;
      for (; k >= 0 && gs[k]! > g; k--) gs[k + 1] = gs[k]!;
      gs[k + 1] = g;
    }
  }
  return { groups, groupsOf };
}

/**
 * A narrowing cast (f32 → bf16, bf16 → int8) of what an elementwise loop or reduction computes,
 * read by a kernel or by several groups: it ends the producer's loop, so the loop writes the
 * narrow type once and its readers read that — as XLA fuses a convert into its producer's loop
 * fusion — rather than riding into every reader, each reading the wide type.
 */
function narrowsLoopOutput(
  program: Program,
  graph: ProgramGraph,
  eqn: Program["eqns"][number],
  targets: readonly number[],
  drafts: readonly Draft[],
): boolean {
  if (eqn.primitive !== Primitive.Cast) return false;
  const x = eqn.inputs[0];
  if (x?.kind !== "var") return false;
  if (bitsOf(eqn.outputs[0]!.aval.dtype) >= bitsOf(x.aval.dtype)) return false;
  const p = graph.producer[x.id]!;
  if (p < 0) return false;
  const producer = fusionKind[program.eqns[p]!.primitive];
  if (producer !== "elementwise" && producer !== "reduce") return false;
  return targets.length > 1 || drafts[targets[0]!]!.kernel !== undefined;
}

/** A program as the chip runs it: dead code dropped, def-use facts, equations fused into kernels. */
export interface FusedProgram {
  /** The program without dead code (the kernels index its equations). */
  readonly program: Program;
  readonly graph: ProgramGraph;
  readonly fusion: Fusion;
}

/**
 * The fusion pass: drop dead code, build def-use facts and group equations into kernels. Its
 * result depends on the program's structure only, not on dim sizes, so one fused program is
 * costed at many sizes.
 */
export function fuseKernels(input: Program): FusedProgram {
  const program = eliminateDeadCode(input);
  const graph = programGraph(program);
  return { program, graph, fusion: fuse(program, graph) };
}

/** The fused program, one kernel a line: `kernel 3: einsum[BD,DF->BF] + astype[bf16]`. */
export function printFused(fused: FusedProgram): string {
  const { program, fusion } = fused;
  return fusion.groups
    .map((g) => {
      const main = g.kernel ?? g.root;
      const rest = g.eqns.filter((i) => i !== main).map((i) => printOp(program.eqns[i]!));
      const out = program.eqns[g.root]!.outputs.map(printVar).join(" ");
      return `kernel ${g.id}: ${out} = ${[printOp(program.eqns[main]!), ...rest].join(" + ")}`;
    })
    .join("\n");
}
