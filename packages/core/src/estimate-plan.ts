import { avalBytes, type CostSink, costSink, type SizeContext } from "./cost-rules.js";
import { type Fusion, type FusionGroup, runsWithin } from "./fusion.js";
import type { ProgramGraph } from "./graph.js";
import type { Aval, Program } from "./ir.js";
import { costInto, type GroupCost, kernelTraits } from "./kernel-cost.js";

/** Input roles as codes, to split the HBM bytes a kernel reads into weights, caches and the rest. */
export const ACTIVATION = 0;
export const PARAM = 1;
export const CACHE = 2;

/**
 * What crosses the kernels' boundaries, as positions in the program, kernel after kernel (the
 * `…Start` arrays give where each kernel's run begins): the reads from outside (equation,
 * operand, and which of the kernel's distinct vars it is), the vars read (each once, in the
 * order first read) and the results written to HBM (equation, result).
 */
interface BoundaryPlan {
  readonly readStart: Int32Array;
  readonly readEqn: readonly number[];
  readonly readOperand: readonly number[];
  readonly readSlot: readonly number[];
  readonly varStart: Int32Array;
  readonly readVars: readonly number[];
  readonly writeStart: Int32Array;
  readonly writeEqn: readonly number[];
  readonly writeResult: readonly number[];
}

/**
 * The buffers activations live in: for each (in var id order), the kernel position that
 * allocates it, the last that needs it, and the var whose type sizes it — a result
 * (equation, result) or an input (−1, input index).
 */
interface MemoryPlan {
  readonly born: Int32Array;
  readonly dies: Int32Array;
  readonly fromEqn: Int32Array;
  readonly fromIndex: Int32Array;
}

/**
 * Everything about a fused program's estimate that its sizes and dtypes do not change: which
 * bytes each kernel reads and writes, the role of every var read, and when each buffer is live.
 * Made once per fusion (a retyped program shares its fusion, its structure and so its plan); an
 * estimate then only prices equations at its sizes and adds up.
 */
export interface EstimatePlan {
  readonly kernels: BoundaryPlan;
  /** Per var id: its role code (a cache updated in place is still the cache). */
  readonly role: Uint8Array;
  /** The most distinct vars one kernel reads. */
  readonly maxReads: number;
  readonly memory: MemoryPlan;
}

const plans = new WeakMap<Fusion, EstimatePlan>();

const NOT_IN_PLACE = -2;

/** The estimate plan of a fused program (made on first use, kept with its fusion). */
export function estimatePlan(program: Program, graph: ProgramGraph, fusion: Fusion): EstimatePlan {
  let plan = plans.get(fusion);
  if (plan === undefined) {
    plan = makePlan(program, graph, fusion);
    plans.set(fusion, plan);
  }
  return plan;
}

function makePlan(program: Program, graph: ProgramGraph, fusion: Fusion): EstimatePlan {
  const n = graph.varCount;
  const eqns = program.eqns;
  const { operandStart, operands, resultStart, results, readerStart, readers } = graph;
  const role = new Uint8Array(n);
  for (let k = 0; k < program.inputs.length; k++) {
    const input = program.inputs[k]!;
    role[input.var.id] =
      input.role === "param" ? PARAM : input.role === "cache" ? CACHE : ACTIVATION;
  }
  // Indexed loops over the graph's flat arrays throughout: a plan is made once per fusion, much
  // of it before it is optimized, and the equations themselves are read once, here.
  // Per equation: the var whose buffer an in-place update writes into (−1 for a literal),
  // NOT_IN_PLACE for every other equation.
  const inPlace = new Int32Array(eqns.length).fill(NOT_IN_PLACE);
  for (let e = 0; e < eqns.length; e++) {
    if (!kernelTraits[eqns[e]!.primitive].inPlace) continue;
    const operand = operandStart[e + 1]! > operandStart[e]! ? operands[operandStart[e]!]! : -1;
    inPlace[e] = operand;
    if (operand >= 0) role[results[resultStart[e]!]!] = role[operand]!;
  }
  const inside = new Int32Array(eqns.length);
  const slotOf = new Int32Array(n);
  const stamp = new Int32Array(n);
  const groups = fusion.groups;
  const readStart = new Int32Array(groups.length + 1);
  const varStart = new Int32Array(groups.length + 1);
  const writeStart = new Int32Array(groups.length + 1);
  const readEqn: number[] = [];
  const readOperand: number[] = [];
  const readSlot: number[] = [];
  const readVars: number[] = [];
  const writeEqn: number[] = [];
  const writeResult: number[] = [];
  let maxReads = 0;
  for (let gi = 0; gi < groups.length; gi++) {
    const group = groups[gi]!;
    const tag = group.id + 1;
    const firstVar = readVars.length;
    const members = group.eqns;
    for (let m = 0; m < members.length; m++) inside[members[m]!] = tag;
    for (let m = 0; m < members.length; m++) {
      const i = members[m]!;
      const from = operandStart[i]!;
      for (let k = from; k < operandStart[i + 1]!; k++) {
        const a = operands[k]!;
        if (a < 0) continue;
        const p = graph.producer[a]!;
        if (p >= 0 && inside[p] === tag) continue;
        if (stamp[a] !== tag) {
          stamp[a] = tag;
          slotOf[a] = readVars.length - firstVar;
          readVars.push(a);
        }
        readEqn.push(i);
        readOperand.push(k - from);
        readSlot.push(slotOf[a]!);
      }
      const first = resultStart[i]!;
      for (let k = first; k < resultStart[i + 1]!; k++) {
        const v = results[k]!;
        // Written to HBM if a program output, or read by a kernel that does not compute it
        // itself (a free op fused into several kernels runs in each: none of them writes it).
        let escapes = graph.isOutput[v] === 1;
        for (let r = readerStart[v]!; r < readerStart[v + 1]! && !escapes; r++) {
          const c = readers[r]!;
          if (inside[c] !== tag) escapes = !runsWithin(fusion, c, i);
        }
        if (escapes) {
          writeEqn.push(i);
          writeResult.push(k - first);
        }
      }
    }
    maxReads = Math.max(maxReads, readVars.length - firstVar);
    readStart[gi + 1] = readEqn.length;
    varStart[gi + 1] = readVars.length;
    writeStart[gi + 1] = writeEqn.length;
  }
  const kernels: BoundaryPlan = {
    readStart,
    readEqn,
    readOperand,
    readSlot,
    varStart,
    readVars,
    writeStart,
    writeEqn,
    writeResult,
  };
  return {
    kernels,
    role,
    maxReads,
    memory: memoryPlan(program, graph, fusion, kernels, inPlace),
  };
}

/**
 * Parameters and caches are resident; activations are live from the kernel that writes them
 * to the last kernel that reads them. An in-place update's result shares its operand's buffer.
 */
function memoryPlan(
  program: Program,
  graph: ProgramGraph,
  fusion: Fusion,
  kernels: BoundaryPlan,
  inPlace: Int32Array,
): MemoryPlan {
  const n = graph.varCount;
  const { resultStart, results } = graph;
  const buffer = new Int32Array(n).fill(-1); // var id → id of the var whose buffer holds it
  const born = new Int32Array(n).fill(-1); // buffer → group position where it is allocated
  const dies = new Int32Array(n).fill(-1); // buffer → last group position that needs it
  const fromEqn = new Int32Array(n);
  const fromIndex = new Int32Array(n);
  for (let k = 0; k < program.inputs.length; k++) {
    const input = program.inputs[k]!;
    const id = input.var.id;
    buffer[id] = id;
    if (input.role === "activation") {
      born[id] = 0;
      fromEqn[id] = -1;
      fromIndex[id] = k;
    }
  }
  const order = fusion.groups;
  for (let pos = 0; pos < order.length; pos++) {
    const members = order[pos]!.eqns;
    for (let m = 0; m < members.length; m++) {
      const i = members[m]!;
      const into = inPlace[i]!;
      if (into !== NOT_IN_PLACE) {
        if (into >= 0) buffer[results[resultStart[i]!]!] = buffer[into]!;
        continue;
      }
      const first = resultStart[i]!;
      for (let k = first; k < resultStart[i + 1]!; k++) {
        const v = results[k]!;
        if (buffer[v] !== -1) continue;
        buffer[v] = v;
        born[v] = pos;
        fromEqn[v] = i;
        fromIndex[v] = k - first;
      }
    }
    for (let r = kernels.varStart[pos]!; r < kernels.varStart[pos + 1]!; r++) {
      const b = buffer[kernels.readVars[r]!]!;
      if (b >= 0 && dies[b]! < pos) dies[b] = pos;
    }
  }
  const end = order.length;
  for (const o of program.outputs) {
    const b = buffer[o.var.id]!;
    if (b >= 0) dies[b] = end;
  }
  // Buffers no kernel reads and no output holds are fused intermediates that never reach HBM;
  // resident buffers are counted apart.
  let count = 0;
  for (let b = 0; b < n; b++) if (born[b]! >= 0 && dies[b]! >= 0) count++;
  const plan = {
    born: new Int32Array(count),
    dies: new Int32Array(count),
    fromEqn: new Int32Array(count),
    fromIndex: new Int32Array(count),
  };
  for (let b = 0, at = 0; b < n; b++) {
    if (born[b]! < 0 || dies[b]! < 0) continue;
    plan.born[at] = born[b]!;
    plan.dies[at] = dies[b]!;
    plan.fromEqn[at] = fromEqn[b]!;
    plan.fromIndex[at] = fromIndex[b]!;
    at++;
  }
  return plan;
}

/**
 * What pricing kernels at one estimate's sizes works with: the program and its plan, the sizes,
 * and scratch reused from kernel to kernel — the sink each equation's cost rule writes into, the
 * bytes read of each of a kernel's vars, and the record a kernel's cost is written to.
 */
export interface KernelPricing {
  readonly program: Program;
  readonly plan: EstimatePlan;
  readonly sizes: SizeContext;
  readonly sink: CostSink;
  readonly readBytes: Float64Array;
  readonly cost: { -readonly [K in keyof GroupCost]: number } & { kernelFlops: number };
}

/** Scratch for pricing the kernels of `program` (planned by `plan`) at `sizes`. */
export function kernelPricing(
  program: Program,
  plan: EstimatePlan,
  sizes: SizeContext,
): KernelPricing {
  return {
    program,
    plan,
    sizes,
    sink: costSink(),
    readBytes: new Float64Array(plan.maxReads),
    cost: { flops: 0, transcendentals: 0, read: 0, written: 0, kernelFlops: 0 },
  };
}

/**
 * Kernel `g`'s cost into `p.cost`: its members priced one after another (into `p.sink`), their
 * FLOPs summed, each var read from outside once (at the most any member reads of it), each
 * escaping result written; the FLOPs of its member `group.kernel` apart. Leaves the bytes read
 * of each of its vars in `p.readBytes` (in the plan's order).
 */
export function groupCost(p: KernelPricing, g: number, group: FusionGroup): void {
  const { program, sizes, sink, readBytes } = p;
  const plan = p.plan.kernels;
  let flops = 0;
  let transcendentals = 0;
  let kernelFlops = 0;
  let written = 0;
  const vars = plan.varStart[g + 1]! - plan.varStart[g]!;
  readBytes.fill(-1, 0, vars);
  // The plan lists each member's reads and writes together, in member order.
  let r = plan.readStart[g]!;
  const rEnd = plan.readStart[g + 1]!;
  let w = plan.writeStart[g]!;
  const wEnd = plan.writeStart[g + 1]!;
  for (const i of group.eqns) {
    costInto(program.eqns[i]!, sizes, sink);
    flops += sink.flops;
    transcendentals += sink.transcendentals;
    if (i === group.kernel) kernelFlops = sink.flops;
    for (; r < rEnd && plan.readEqn[r] === i; r++) {
      const b = sink.reads[plan.readOperand[r]!]!;
      const s = plan.readSlot[r]!;
      if (b > readBytes[s]!) readBytes[s] = b;
    }
    for (; w < wEnd && plan.writeEqn[w] === i; w++) written += sink.writes[plan.writeResult[w]!]!;
  }
  let read = 0;
  for (let s = 0; s < vars; s++) read += readBytes[s]!;
  const into = p.cost;
  into.flops = flops;
  into.transcendentals = transcendentals;
  into.read = read;
  into.written = written;
  into.kernelFlops = kernelFlops;
}

/** Bytes held at each kernel position by activations (`end + 1` positions), at these sizes. */
export function liveBytes(
  program: Program,
  plan: MemoryPlan,
  positions: number,
  sizes: SizeContext,
) {
  const delta = new Float64Array(positions + 1);
  const { born, dies, fromEqn, fromIndex } = plan;
  for (let b = 0; b < born.length; b++) {
    const e = fromEqn[b]!;
    const aval: Aval =
      e < 0
        ? program.inputs[fromIndex[b]!]!.var.aval
        : program.eqns[e]!.outputs[fromIndex[b]!]!.aval;
    const bytes = avalBytes(aval, sizes);
    delta[born[b]!]! += bytes;
    delta[dies[b]! + 1]! -= bytes;
  }
  const live = new Float64Array(positions);
  let now = 0;
  for (let p = 0; p < positions; p++) {
    now += delta[p]!;
    live[p] = now;
  }
  return live;
}
