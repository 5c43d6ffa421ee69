import { COLLECTIVES, isCollective } from "./collectives.js";
import { avalBytes, costRules, type OpCost, type SizeContext } from "./cost-rules.js";
import { eliminateDeadCode } from "./dce.js";
import { debugPass } from "./debug.js";
import { type ComputeClass, computeClass } from "./dtype.js";
import { ShardcostError } from "./errors.js";
import { type Fusion, type FusionGroup, fuse } from "./fusion.js";
import { type ProgramGraph, programGraph } from "./graph.js";
import { type Chip, chip as lookupChip, peakFlops } from "./hardware.js";
import type { Eqn, Program } from "./ir.js";
import { Primitive } from "./primitives.js";
import { printOp, printProgram, printType, printVar } from "./printer.js";
import type { StackCapture } from "./source.js";
import { sourceOf } from "./sources.js";

export type Bound = "compute" | "hbm" | "ici";

/** What a collective costs on the interconnect, per chip (from the sharding package). */
export interface CollectiveCost {
  /** Bytes each chip sends. */
  readonly bytes: number;
  readonly timeS: number;
  /** Bytes each chip sends along each mesh axis. */
  readonly byAxis: Readonly<Record<string, number>>;
}

export type CollectiveCostFn = (eqn: Eqn, sizes: SizeContext) => CollectiveCost;

/** One fused kernel on one chip. */
export interface OpEstimate {
  readonly group: number;
  /** The kernel's op, e.g. `einsum[BD,DF->BF]`, with what fused into it. */
  readonly label: string;
  readonly fused: readonly string[];
  /** The kernel's result as a typed var, e.g. `h:bf16[B, F]`. */
  readonly result: string;
  /** The result's type alone, e.g. `bf16[B, F]`. */
  readonly resultType: string;
  /** The user's call that traced the kernel; `.location` formats it on demand. */
  readonly source: StackCapture | undefined;
  readonly computeClass: ComputeClass;
  readonly flops: number;
  readonly transcendentals: number;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  readonly hbmBytes: number;
  /** Of the bytes read, those of weights and of caches (the rest are activations). */
  readonly paramBytes: number;
  readonly cacheBytes: number;
  /** FLOPs of an einsum with a weight operand (the book's 2·params·tokens), else 0. */
  readonly weightFlops: number;
  readonly computeS: number;
  readonly hbmS: number;
  /** For a collective kernel: its book name and the mesh axes it runs over, as printed. */
  readonly collective: { readonly kind: string; readonly axes: string } | undefined;
  /** Interconnect bytes this chip sends, and their time (collectives only). */
  readonly iciBytes: number;
  readonly iciByAxis: Readonly<Record<string, number>>;
  readonly iciS: number;
  /** Roofline time: max(computeS, hbmS, iciS). */
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

/** The additive parts of a step's totals: sums over its kernels and collectives. */
export interface StepSums {
  readonly flops: number;
  readonly hbmBytes: number;
  /** HBM bytes read from weights and from caches. */
  readonly paramBytes: number;
  readonly cacheBytes: number;
  /** FLOPs of einsums with a weight operand. */
  readonly weightFlops: number;
  readonly iciBytes: number;
  readonly computeS: number;
  readonly hbmS: number;
  readonly iciS: number;
  /** Σ per-op roofline times: kernels and collectives run one after another. */
  readonly timeS: number;
  /** Σ times of the kernels alone (not the collectives). */
  readonly kernelS: number;
}

export interface StepTotals extends Omit<StepSums, "kernelS"> {
  /** The same as `timeS`, named for comparison with `overlappedS`. */
  readonly serialS: number;
  /** Collectives fully hidden behind compute: max(Σ kernel times, Σ collective times). */
  readonly overlappedS: number;
  readonly bound: Bound;
}

/** Totals from sums: the serial and overlapped step, and what binds it. */
export function stepTotals(s: StepSums): StepTotals {
  const { kernelS: _, ...sums } = s;
  return {
    ...sums,
    serialS: s.timeS,
    overlappedS: Math.max(s.kernelS, s.iciS),
    bound: s.iciS > Math.max(s.computeS, s.hbmS) ? "ici" : s.computeS >= s.hbmS ? "compute" : "hbm",
  };
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
  /** Interconnect cost of collectives; lowered programs (which contain them) need it. */
  readonly collectives?: CollectiveCostFn;
  /**
   * Keep this program's kernels (dead-code elimination, def-use facts, fusion) for the next
   * estimate of the same program object, e.g. at other sizes. Off by default: a one-off
   * estimate should not keep them alive.
   */
  readonly reuseKernels?: boolean;
}

export function globalSizes(program: Program): SizeContext {
  return { size: (d) => program.dims[d.dim]! };
}

export function eqnCost(eqn: Eqn, sizes: SizeContext): OpCost {
  const rule = costRules[eqn.primitive] as (e: Eqn, s: SizeContext) => OpCost;
  return rule(eqn, sizes);
}

/** Scratch arrays indexed by var id, reused across groups (stamps avoid clearing). */
interface Scratch {
  readonly stamp: Int32Array;
  readonly readBytes: Float64Array;
  readonly inside: Int32Array;
}

/**
 * What a fused group costs: FLOPs of its members, HBM bytes of what crosses its boundary.
 * Fills `readVars` with the ids of the vars it reads from HBM.
 */
function groupCost(
  program: Program,
  graph: ProgramGraph,
  fusion: Fusion,
  group: FusionGroup,
  costs: readonly OpCost[],
  scratch: Scratch,
  readVars: number[],
) {
  const tag = group.id + 1;
  let written = 0;
  let flops = 0;
  let transcendentals = 0;
  for (const i of group.eqns) scratch.inside[i] = tag;
  for (const i of group.eqns) {
    const eqn = program.eqns[i]!;
    const cost = costs[i]!;
    flops += cost.flops;
    transcendentals += cost.transcendentals;
    const inputs = eqn.inputs;
    for (let k = 0; k < inputs.length; k++) {
      const a = inputs[k]!;
      if (a.kind !== "var") continue;
      const p = graph.producer[a.id]!;
      if (p >= 0 && scratch.inside[p] === tag) continue;
      const b = cost.reads[k]!;
      if (scratch.stamp[a.id] !== tag) {
        scratch.stamp[a.id] = tag;
        scratch.readBytes[a.id] = b;
        readVars.push(a.id);
      } else if (b > scratch.readBytes[a.id]!) scratch.readBytes[a.id] = b;
    }
    const outputs = eqn.outputs;
    for (let k = 0; k < outputs.length; k++) {
      const v = outputs[k]!.id;
      let escapes = graph.isOutput[v] === 1;
      if (!escapes) {
        for (const c of graph.consumers[v]!) {
          if (scratch.inside[c] !== tag && !fusion.groupsOf[c]!.includes(group.id)) {
            escapes = true;
            break;
          }
        }
      }
      if (escapes) written += cost.writes[k]!;
    }
  }
  let read = 0;
  for (const v of readVars) read += scratch.readBytes[v]!;
  return { flops, transcendentals, read, written };
}

/** An OpEstimate whose printed fields are formatted only when read (reports show a few). */
const NO_AXES: Readonly<Record<string, number>> = Object.freeze({});

class KernelEstimate implements OpEstimate {
  readonly group: number;
  readonly flops: number;
  readonly transcendentals: number;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  readonly hbmBytes: number;
  readonly paramBytes: number;
  readonly cacheBytes: number;
  readonly weightFlops: number;
  readonly iciBytes: number;
  readonly iciByAxis: Readonly<Record<string, number>>;
  readonly iciS: number;
  readonly timeS: number;
  readonly bound: Bound;
  private readonly program: Program;
  private readonly members: readonly number[];
  private readonly main: Eqn;
  private readonly root: Eqn;
  constructor(
    program: Program,
    group: FusionGroup,
    main: Eqn,
    root: Eqn,
    readonly computeClass: ComputeClass,
    cost: { flops: number; transcendentals: number; read: number; written: number },
    readonly computeS: number,
    readonly hbmS: number,
    ici: CollectiveCost | undefined,
    byRole: { paramBytes: number; cacheBytes: number; weightFlops: number },
  ) {
    this.paramBytes = byRole.paramBytes;
    this.cacheBytes = byRole.cacheBytes;
    this.weightFlops = byRole.weightFlops;
    this.program = program;
    this.group = group.id;
    this.members = group.eqns;
    this.main = main;
    this.root = root;
    this.flops = cost.flops;
    this.transcendentals = cost.transcendentals;
    this.bytesRead = cost.read;
    this.bytesWritten = cost.written;
    this.hbmBytes = cost.read + cost.written;
    this.iciBytes = ici?.bytes ?? 0;
    this.iciByAxis = ici?.byAxis ?? NO_AXES;
    this.iciS = ici?.timeS ?? 0;
    this.timeS = Math.max(computeS, hbmS, this.iciS);
    this.bound =
      this.iciS > Math.max(computeS, hbmS) ? "ici" : computeS >= hbmS ? "compute" : "hbm";
  }
  get source(): StackCapture | undefined {
    return sourceOf(this.program, this.main);
  }
  get collective(): { readonly kind: string; readonly axes: string } | undefined {
    const p = this.main.primitive;
    if (!isCollective(p)) return undefined;
    const axes = (this.main.params as { readonly axes: readonly string[] }).axes.join("");
    return { kind: COLLECTIVES[p].name, axes };
  }
  get label(): string {
    return printOp(this.main);
  }
  get fused(): string[] {
    const eqns = this.program.eqns;
    return this.members
      .map((i) => eqns[i]!)
      .filter((e) => e !== this.main)
      .map((e) => e.primitive);
  }
  get result(): string {
    return this.root.outputs.map(printVar).join(" ");
  }
  get resultType(): string {
    return this.root.outputs.map((v) => printType(v.aval)).join(" ");
  }
  toJSON() {
    const { program: _p, members: _m, main: _e, root: _r, ...rest } = this;
    return {
      ...rest,
      label: this.label,
      fused: this.fused,
      result: this.result,
      source: this.source?.location,
    };
  }
}

function computeClassOf(eqn: Eqn): ComputeClass {
  if (eqn.primitive === Primitive.Einsum || eqn.primitive === Primitive.FlashAttention) {
    const a = eqn.inputs[0]!;
    if (a.kind === "var") return computeClass(a.aval.dtype);
  }
  return computeClass(eqn.outputs[0]!.aval.dtype);
}

interface Prepared {
  readonly program: Program;
  readonly graph: ProgramGraph;
  readonly fusion: Fusion;
}

/** Dead-code elimination, def-use facts and kernels depend on structure only, not on sizes. */
const preparedPrograms = new WeakMap<Program, Prepared>();

function prepare(input: Program, reuse: boolean): Prepared {
  const cached = reuse ? preparedPrograms.get(input) : undefined;
  if (cached) return cached;
  const program = eliminateDeadCode(input);
  debugPass("eliminateDeadCode", () => printProgram(program));
  const graph = programGraph(program);
  const fusion = fuse(program, graph);
  debugPass("fuse", () =>
    fusion.groups
      .map((g) => `kernel ${g.id}: ${g.eqns.map((i) => printOp(program.eqns[i]!)).join(" + ")}`)
      .join("\n"),
  );
  const prepared = { program, graph, fusion };
  if (reuse) preparedPrograms.set(input, prepared);
  return prepared;
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
  // The pipeline: drop dead code → def-use facts → fuse into kernels → cost each kernel → memory.
  const { program, graph, fusion } = prepare(input, options.reuseKernels === true);
  const sizes = options.sizes ?? globalSizes(program);
  const costs = program.eqns.map((e) => eqnCost(e, sizes));
  const ops: OpEstimate[] = new Array(fusion.groups.length);
  const readsByGroup: (readonly number[])[] = new Array(fusion.groups.length);
  const scratch: Scratch = {
    stamp: new Int32Array(graph.varCount),
    readBytes: new Float64Array(graph.varCount),
    inside: new Int32Array(program.eqns.length),
  };
  // What each input holds: 1 weights, 2 caches (activations 0), to split HBM reads by role.
  const role = new Uint8Array(graph.varCount);
  for (const input of program.inputs) {
    role[input.var.id] = input.role === "param" ? 1 : input.role === "cache" ? 2 : 0;
  }
  // A cache updated in place (dynamic_update_slice) is still the cache: reads of it are KV reads.
  for (const eqn of program.eqns) {
    const operand = eqn.inputs[0];
    if (eqn.primitive === Primitive.DynamicUpdateSlice && operand?.kind === "var") {
      role[eqn.outputs[0]!.id] = role[operand.id]!;
    }
  }
  for (const group of fusion.groups) {
    const readVars: number[] = [];
    const c = groupCost(program, graph, fusion, group, costs, scratch, readVars);
    readsByGroup[group.id] = readVars;
    let paramBytes = 0;
    let cacheBytes = 0;
    for (const v of readVars) {
      if (role[v] === 1) paramBytes += scratch.readBytes[v]!;
      else if (role[v] === 2) cacheBytes += scratch.readBytes[v]!;
    }
    // An einsum that reads weights (directly, or through fused casts): 2·params·tokens.
    const isEinsum =
      group.kernel !== undefined && program.eqns[group.kernel]!.primitive === Primitive.Einsum;
    const weightFlops = isEinsum && paramBytes > 0 ? costs[group.kernel!]!.flops : 0;
    const byRole = { paramBytes, cacheBytes, weightFlops };
    const main = program.eqns[group.kernel ?? group.root]!;
    const cls = computeClassOf(main);
    const computeS = c.flops / peakFlops(chip, cls);
    const hbmS = (c.read + c.written) / chip.hbmBandwidth;
    const root = program.eqns[group.root]!;
    let ici: CollectiveCost | undefined;
    if (isCollective(main.primitive)) {
      if (!options.collectives) {
        throw new ShardcostError(
          "input",
          `${printOp(main)}: a lowered program needs a mesh to cost its collectives; ` +
            "estimate it with the sharding package's estimateSpmd",
        );
      }
      ici = options.collectives(main, sizes);
    }
    ops[group.id] = new KernelEstimate(
      program,
      group,
      main,
      root,
      cls,
      c,
      computeS,
      hbmS,
      ici,
      byRole,
    );
  }
  let flops = 0;
  let hbmBytes = 0;
  let paramBytes = 0;
  let cacheBytes = 0;
  let weightFlops = 0;
  let iciBytes = 0;
  let computeS = 0;
  let hbmS = 0;
  let iciS = 0;
  let timeS = 0;
  let kernelS = 0;
  for (const o of ops) {
    flops += o.flops;
    hbmBytes += o.hbmBytes;
    paramBytes += o.paramBytes;
    cacheBytes += o.cacheBytes;
    weightFlops += o.weightFlops;
    iciBytes += o.iciBytes;
    computeS += o.computeS;
    hbmS += o.hbmS;
    iciS += o.iciS;
    timeS += o.timeS;
    if (o.iciS === 0) kernelS += o.timeS;
  }
  const totals = stepTotals({
    flops,
    hbmBytes,
    paramBytes,
    cacheBytes,
    weightFlops,
    iciBytes,
    computeS,
    hbmS,
    iciS,
    timeS,
    kernelS,
  });
  return {
    chip,
    ops,
    totals,
    memory: memoryOf(program, graph, fusion, sizes, readsByGroup, chip),
  };
}

/**
 * Parameters and caches are resident; activations are live from the kernel that writes them
 * to the last kernel that reads them. An in-place update's result shares its operand's buffer.
 */
function memoryOf(
  program: Program,
  graph: ProgramGraph,
  fusion: Fusion,
  sizes: SizeContext,
  readsByGroup: readonly (readonly number[])[],
  chip: Chip,
): MemoryEstimate {
  let paramBytes = 0;
  let cacheBytes = 0;
  const n = graph.varCount;
  const buffer = new Int32Array(n).fill(-1); // var id → id of the var whose buffer holds it
  const born = new Int32Array(n).fill(-1); // buffer → group position where it is allocated
  const dies = new Int32Array(n).fill(-1); // buffer → last group position that needs it
  const bytes = new Float64Array(n);
  for (const input of program.inputs) {
    const id = input.var.id;
    const b = avalBytes(input.var.aval, sizes);
    buffer[id] = id;
    if (input.role === "param") paramBytes += b;
    else if (input.role === "cache") cacheBytes += b;
    else {
      bytes[id] = b;
      born[id] = 0;
    }
  }
  const groups = fusion.groups;
  for (let pos = 0; pos < groups.length; pos++) {
    for (const i of groups[pos]!.eqns) {
      const eqn = program.eqns[i]!;
      if (eqn.primitive === Primitive.DynamicUpdateSlice) {
        const operand = eqn.inputs[0]!;
        if (operand.kind === "var") buffer[eqn.outputs[0]!.id] = buffer[operand.id]!;
        continue;
      }
      for (const v of eqn.outputs) {
        if (buffer[v.id] !== -1) continue;
        buffer[v.id] = v.id;
        born[v.id] = pos;
        bytes[v.id] = avalBytes(v.aval, sizes);
      }
    }
    for (const v of readsByGroup[pos]!) {
      const b = buffer[v]!;
      if (b >= 0 && dies[b]! < pos) dies[b] = pos;
    }
  }
  const end = groups.length;
  for (const o of program.outputs) {
    const b = buffer[o.var.id]!;
    if (b >= 0) dies[b] = end;
  }
  // Sweep: +bytes at birth, −bytes after death. Buffers no kernel reads and no output holds
  // are fused intermediates that never reach HBM; resident buffers were counted above.
  const delta = new Float64Array(end + 2);
  for (let b = 0; b < n; b++) {
    if (born[b]! < 0 || dies[b]! < 0) continue;
    delta[born[b]!]! += bytes[b]!;
    delta[dies[b]! + 1]! -= bytes[b]!;
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
