import { eliminateDeadCode } from "./dce.js";
import { bitsOf } from "./dtype.js";
import { type ProgramGraph, programGraph, room } from "./graph.js";
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
  /**
   * For each equation, the one group it runs in, or `−1 − k` when it runs in several (a cast or
   * rename fused into each of its readers): the groups `several[k]`, ascending.
   */
  readonly groupOf: Int32Array;
  readonly several: readonly (readonly number[])[];
  /** For each equation, the groups it runs in, as lists (built on first use). */
  readonly groupsOf: readonly (readonly number[])[];
}

/** Whether every group equation `c` runs in is one equation `i` runs in too. */
export function runsWithin(fusion: Fusion, c: number, i: number): boolean {
  const { groupOf, several } = fusion;
  const mine = groupOf[i]!;
  const theirs = groupOf[c]!;
  if (theirs >= 0) return mine >= 0 ? theirs === mine : holds(several[-1 - mine]!, theirs);
  const list = several[-1 - theirs]!;
  for (let j = 0; j < list.length; j++) {
    const g = list[j]!;
    if (mine >= 0 ? g !== mine : !holds(several[-1 - mine]!, g)) return false;
  }
  return true;
}

/** Whether ascending `list` holds `g` (by halving: a value every layer reads is in thousands). */
function holds(list: readonly number[], g: number): boolean {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid]! < g) lo = mid + 1;
    else hi = mid;
  }
  return list[lo] === g;
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
  const eqns = program.eqns;
  const n = eqns.length;
  const { resultStart, results, readerStart, readers, isOutput } = graph;
  // While walking, groups are drafts numbered in the order they are made (consumers first);
  // each equation's entry is its draft, or −1 − k for the drafts `several[k]`.
  const groupOf = new Int32Array(n);
  const several: number[][] = [];
  // An equation starts at most one group; a few join several (sized so that the list of who
  // joined which seldom grows and is copied).
  const roots = new Int32Array(n);
  const kernels = new Int32Array(n);
  let drafts = 0;
  // Who joined which draft, in walk order (equations descending).
  let memberDraft = new Int32Array(n + (n >> 3) + 8);
  let memberEqn = new Int32Array(n + (n >> 3) + 8);
  let members = 0;
  const join = (d: number, i: number): void => {
    memberDraft = room(memberDraft, members, members + 1);
    memberEqn = room(memberEqn, members, members + 1);
    memberDraft[members] = d;
    memberEqn[members] = i;
    members++;
  };
  const newGroup = (i: number, kernel: boolean): void => {
    roots[drafts] = i;
    kernels[drafts] = kernel ? i : -1;
    groupOf[i] = drafts;
    join(drafts, i);
    drafts++;
  };
  const targets: number[] = [];
  // A draft is among the targets of equation i when its mark is i + 1: no search of the list
  // (a value every layer reads has thousands of targets).
  const marked = new Int32Array(n);
  const target = (g: number, i: number): void => {
    if (marked[g] === i + 1) return;
    marked[g] = i + 1;
    targets.push(g);
  };
  for (let i = n - 1; i >= 0; i--) {
    const eqn = eqns[i]!;
    const kind = fusionKind[eqn.primitive];
    if (kind === "kernel" || kind === "collective") {
      newGroup(i, true);
      continue;
    }
    targets.length = 0;
    let escapes = false;
    for (let o = resultStart[i]!; o < resultStart[i + 1]!; o++) {
      const id = results[o]!;
      if (isOutput[id]) escapes = true;
      for (let r = readerStart[id]!; r < readerStart[id + 1]!; r++) {
        const g = groupOf[readers[r]!]!;
        if (g >= 0) {
          target(g, i);
          continue;
        }
        const gs = several[-1 - g]!;
        for (let j = 0; j < gs.length; j++) target(gs[j]!, i);
      }
    }
    if (
      escapes ||
      targets.length === 0 ||
      narrowsLoopOutput(program, graph, eqn, targets, kernels)
    ) {
      newGroup(i, false);
    } else if (kind === "passthrough") {
      if (targets.length === 1) groupOf[i] = targets[0]!;
      else {
        groupOf[i] = -1 - several.length;
        several.push(targets.slice());
      }
      for (let j = 0; j < targets.length; j++) join(targets[j]!, i);
    } else if (targets.length === 1 && kernels[targets[0]!]! < 0) {
      groupOf[i] = targets[0]!;
      join(targets[0]!, i);
    } else {
      newGroup(i, false);
    }
  }
  // Groups numbered in execution order of their roots (the reverse of the drafts' order), each
  // with its members ascending (they joined in descending order).
  const last = drafts - 1;
  const count = new Int32Array(drafts);
  for (let m = 0; m < members; m++) count[memberDraft[m]!]!++;
  const lists: number[][] = new Array(drafts);
  for (let d = 0; d < drafts; d++) lists[d] = new Array<number>(count[d]!);
  for (let m = 0; m < members; m++) {
    const d = memberDraft[m]!;
    lists[d]![--count[d]!] = memberEqn[m]!;
  }
  const groups: FusionGroup[] = new Array(drafts);
  for (let d = 0; d < drafts; d++) {
    const k = kernels[d]!;
    const id = last - d;
    groups[id] = { id, eqns: lists[d]!, root: roots[d]!, kernel: k >= 0 ? k : undefined };
  }
  for (let i = 0; i < n; i++) {
    const g = groupOf[i]!;
    if (g >= 0) groupOf[i] = last - g;
  }
  for (let k = 0; k < several.length; k++) {
    const gs = several[k]!;
    // Renumbered, then ascending (most lists are a few groups: insertion sort, no comparator
    // or scratch; a long one is sorted).
    for (let j = 0; j < gs.length; j++) gs[j] = last - gs[j]!;
    if (gs.length > 16) {
      gs.sort((a, b) => a - b);
      continue;
    }
    for (let j = 1; j < gs.length; j++) {
      const g = gs[j]!;
      let q = j - 1;
      for (; q >= 0 && gs[q]! > g; q--) gs[q + 1] = gs[q]!;
      gs[q + 1] = g;
    }
  }
  let built: (readonly number[])[] | undefined;
  return {
    groups,
    groupOf,
    several,
    get groupsOf() {
      if (built === undefined) {
        const singles: number[][] = new Array(drafts);
        const all: (readonly number[])[] = new Array(n);
        for (let i = 0; i < n; i++) {
          const g = groupOf[i]!;
          if (g < 0) all[i] = several[-1 - g]!;
          else {
            singles[g] ??= [g];
            all[i] = singles[g]!;
          }
        }
        built = all;
      }
      return built;
    },
  };
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
  kernels: Int32Array,
): boolean {
  if (eqn.primitive !== Primitive.Cast) return false;
  const x = eqn.inputs[0];
  if (x?.kind !== "var") return false;
  if (bitsOf(eqn.outputs[0]!.aval.dtype) >= bitsOf(x.aval.dtype)) return false;
  const p = graph.producer[x.id]!;
  if (p < 0) return false;
  const producer = fusionKind[program.eqns[p]!.primitive];
  if (producer !== "elementwise" && producer !== "reduce") return false;
  return targets.length > 1 || kernels[targets[0]!]! >= 0;
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
