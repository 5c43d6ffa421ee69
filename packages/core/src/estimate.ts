import { avalBytes, costRules, type OpCost, type SizeContext } from "./cost-rules.js";
import { eliminateDeadCode } from "./dce.js";
import { type ComputeClass, computeClass } from "./dtype.js";
import { type Fusion, type FusionGroup, fuse } from "./fusion.js";
import { type ProgramGraph, programGraph } from "./graph.js";
import { type Chip, chip as lookupChip, peakFlops } from "./hardware.js";
import type { Eqn, EqnOf, Program, Var } from "./ir.js";
import { Primitive } from "./primitives.js";
import { printOp, printVar } from "./printer.js";
import type { StackCapture } from "./source.js";

export type Bound = "compute" | "hbm";

/** One fused kernel on one chip. */
export interface OpEstimate {
  readonly group: number;
  /** The kernel's op, e.g. `einsum[BD,DF->BF]`, with what fused into it. */
  readonly label: string;
  readonly fused: readonly string[];
  /** The kernel's result as a typed var, e.g. `h:bf16[B, F]`. */
  readonly result: string;
  /** The user's call that traced the kernel; `.location` formats it on demand. */
  readonly source: StackCapture | undefined;
  readonly computeClass: ComputeClass;
  readonly flops: number;
  readonly transcendentals: number;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  readonly hbmBytes: number;
  readonly computeS: number;
  readonly hbmS: number;
  /** Roofline time: max(computeS, hbmS). */
  readonly timeS: number;
  readonly bound: Bound;
}

export interface MemoryEstimate {
  readonly paramBytes: number;
  readonly cacheBytes: number;
  /** Peak bytes of activations live at once (inputs, intermediates written to HBM, outputs). */
  readonly activationBytes: number;
  readonly totalBytes: number;
  readonly capacityBytes: number;
  readonly fits: boolean;
  /** capacity − total: how much room is left, negative by how much it misses. */
  readonly headroomBytes: number;
}

export interface StepTotals {
  readonly flops: number;
  readonly hbmBytes: number;
  readonly computeS: number;
  readonly hbmS: number;
  /** Σ per-op roofline times: kernels run one after another. */
  readonly timeS: number;
  readonly bound: Bound;
}

export interface Estimate {
  readonly chip: Chip;
  readonly ops: readonly OpEstimate[];
  readonly totals: StepTotals;
  readonly memory: MemoryEstimate;
}

export interface EstimateOptions {
  /** Dim sizes as the chip holds them (default: global sizes, one chip holds everything). */
  readonly sizes?: SizeContext;
}

export function globalSizes(program: Program): SizeContext {
  return { size: (d) => program.dims[d.dim]! };
}

export function eqnCost(eqn: Eqn, sizes: SizeContext): OpCost {
  const rule = costRules[eqn.primitive] as (e: Eqn, s: SizeContext) => OpCost;
  return rule(eqn, sizes);
}

/** What a fused group costs: FLOPs of its members, HBM bytes of what crosses its boundary. */
function groupCost(
  program: Program,
  graph: ProgramGraph,
  fusion: Fusion,
  group: FusionGroup,
  costs: readonly OpCost[],
) {
  const reads = new Map<number, number>();
  let written = 0;
  let flops = 0;
  let transcendentals = 0;
  const inside = new Set(group.eqns);
  for (const i of group.eqns) {
    const eqn = program.eqns[i]!;
    const cost = costs[i]!;
    flops += cost.flops;
    transcendentals += cost.transcendentals;
    eqn.inputs.forEach((a, k) => {
      if (a.kind !== "var") return;
      const p = graph.producer.get(a.id);
      if (p !== undefined && inside.has(p)) return;
      reads.set(a.id, Math.max(reads.get(a.id) ?? 0, cost.reads[k]!));
    });
    eqn.outputs.forEach((v, k) => {
      const escapes =
        graph.outputs.has(v.id) ||
        (graph.consumers.get(v.id) ?? []).some((c) => !fusion.groupsOf[c]!.includes(group.id));
      if (escapes) written += cost.writes[k]!;
    });
  }
  let read = 0;
  for (const b of reads.values()) read += b;
  return { flops, transcendentals, read, written, reads };
}

function label(program: Program, group: FusionGroup): { label: string; fused: string[] } {
  const main = group.kernel ?? group.root;
  const fused = group.eqns.filter((i) => i !== main).map((i) => program.eqns[i]!.primitive);
  return { label: printOp(program.eqns[main]!), fused };
}

function computeClassOf(eqn: Eqn): ComputeClass {
  if (eqn.primitive === Primitive.Einsum || eqn.primitive === Primitive.FlashAttention) {
    const a = eqn.inputs[0]!;
    if (a.kind === "var") return computeClass(a.aval.dtype);
  }
  return computeClass(eqn.outputs[0]!.aval.dtype);
}

/**
 * Per-op roofline on one chip: fuse, cost each kernel (FLOPs at the peak of its compute dtype,
 * HBM bytes at the chip's bandwidth), and account memory by liveness.
 */
export function estimate(
  input: Program,
  chipOrName: Chip | string,
  options: EstimateOptions = {},
): Estimate {
  const chip = typeof chipOrName === "string" ? lookupChip(chipOrName) : chipOrName;
  const program = eliminateDeadCode(input);
  const sizes = options.sizes ?? globalSizes(program);
  const graph = programGraph(program);
  const fusion = fuse(program, graph);
  const costs = program.eqns.map((e) => eqnCost(e, sizes));
  const ops: OpEstimate[] = [];
  const readsByGroup: Map<number, number>[] = [];
  const writesByGroup: Set<number>[] = [];
  for (const group of fusion.groups) {
    const c = groupCost(program, graph, fusion, group, costs);
    readsByGroup.push(c.reads);
    const main = program.eqns[group.kernel ?? group.root]!;
    const cls = computeClassOf(main);
    const computeS = c.flops / peakFlops(chip, cls);
    const hbmBytes = c.read + c.written;
    const hbmS = hbmBytes / chip.hbmBandwidth;
    const root = program.eqns[group.root]!;
    writesByGroup.push(new Set(root.outputs.map((v) => v.id)));
    ops.push({
      group: group.id,
      ...label(program, group),
      result: root.outputs.map(printVar).join(" "),
      source: main.source,
      computeClass: cls,
      flops: c.flops,
      transcendentals: c.transcendentals,
      bytesRead: c.read,
      bytesWritten: c.written,
      hbmBytes,
      computeS,
      hbmS,
      timeS: Math.max(computeS, hbmS),
      bound: computeS >= hbmS ? "compute" : "hbm",
    });
  }
  const sum = (f: (o: OpEstimate) => number) => ops.reduce((acc, o) => acc + f(o), 0);
  const computeS = sum((o) => o.computeS);
  const hbmS = sum((o) => o.hbmS);
  const totals: StepTotals = {
    flops: sum((o) => o.flops),
    hbmBytes: sum((o) => o.hbmBytes),
    computeS,
    hbmS,
    timeS: sum((o) => o.timeS),
    bound: computeS >= hbmS ? "compute" : "hbm",
  };
  return {
    chip,
    ops,
    totals,
    memory: memoryOf(program, fusion, sizes, readsByGroup, chip),
  };
}

/**
 * Parameters and caches are resident; activations are live from the kernel that writes them
 * to the last kernel that reads them. An in-place update's result shares its operand's buffer.
 */
function memoryOf(
  program: Program,
  fusion: Fusion,
  sizes: SizeContext,
  readsByGroup: readonly Map<number, number>[],
  chip: Chip,
): MemoryEstimate {
  let paramBytes = 0;
  let cacheBytes = 0;
  const buffer = new Map<number, number>(); // var id → id of the buffer holding it
  const bytes = new Map<number, number>(); // buffer id → bytes
  const born = new Map<number, number>(); // buffer id → group position
  const dies = new Map<number, number>();
  const resident = new Set<number>();
  for (const input of program.inputs) {
    const b = avalBytes(input.var.aval, sizes);
    buffer.set(input.var.id, input.var.id);
    if (input.role === "param") paramBytes += b;
    else if (input.role === "cache") cacheBytes += b;
    if (input.role !== "activation") {
      resident.add(input.var.id);
      continue;
    }
    bytes.set(input.var.id, b);
    born.set(input.var.id, 0);
  }
  const materialize = (v: Var, at: number) => {
    buffer.set(v.id, v.id);
    bytes.set(v.id, avalBytes(v.aval, sizes));
    born.set(v.id, at);
  };
  fusion.groups.forEach((group, pos) => {
    for (const i of group.eqns) {
      const eqn = program.eqns[i]!;
      if (eqn.primitive === Primitive.DynamicUpdateSlice) {
        const operand = (eqn as EqnOf<Primitive.DynamicUpdateSlice>).inputs[0]!;
        if (operand.kind === "var") buffer.set(eqn.outputs[0]!.id, buffer.get(operand.id)!);
        continue;
      }
      for (const v of eqn.outputs) if (!buffer.has(v.id)) materialize(v, pos);
    }
    for (const v of readsByGroup[pos]!.keys()) {
      const b = buffer.get(v);
      if (b !== undefined) dies.set(b, Math.max(dies.get(b) ?? 0, pos));
    }
  });
  const end = fusion.groups.length;
  for (const o of program.outputs) {
    const b = buffer.get(o.var.id);
    if (b !== undefined) dies.set(b, end);
  }
  // Sweep: +bytes at birth, −bytes after death.
  const delta = new Float64Array(end + 2);
  for (const [b, n] of bytes) {
    if (resident.has(b)) continue;
    // Only buffers a kernel reads, or outputs, reach HBM; fused intermediates never do.
    const d = dies.get(b);
    if (d === undefined) continue;
    delta[born.get(b)!]! += n;
    delta[d + 1]! -= n;
  }
  let live = 0;
  let peak = 0;
  for (let p = 0; p <= end; p++) {
    live += delta[p]!;
    peak = Math.max(peak, live);
  }
  const totalBytes = paramBytes + cacheBytes + peak;
  return {
    paramBytes,
    cacheBytes,
    activationBytes: peak,
    totalBytes,
    capacityBytes: chip.hbmBytes,
    fits: totalBytes <= chip.hbmBytes,
    headroomBytes: chip.hbmBytes - totalBytes,
  };
}
