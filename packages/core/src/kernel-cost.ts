import { COLLECTIVES, isCollective } from "./collectives.js";
import { type CostSink, costRules, costSink, type OpCost, type SizeContext } from "./cost-rules.js";
import { type ComputeClass, computeClass } from "./dtype.js";
import type { FusionGroup } from "./fusion.js";
import type { Eqn, Program } from "./ir.js";
import { Primitive } from "./primitives.js";
import { printOp, printType, printVar } from "./printer.js";
import type { StackCapture } from "./source.js";
import { sourceOf } from "./sources.js";

/** What bounds a kernel or a step: compute, HBM traffic or the interconnect. */
export type Bound = "compute" | "hbm" | "ici";

/** The book's verdict: ICI when it outlasts both, else compute unless HBM outlasts it. */
export function boundOf(computeS: number, hbmS: number, iciS: number): Bound {
  return iciS > Math.max(computeS, hbmS) ? "ici" : computeS >= hbmS ? "compute" : "hbm";
}

/** What a collective costs on the interconnect, per chip (from the sharding package). */
export interface CollectiveCost {
  /** Bytes each chip sends. */
  readonly bytes: number;
  readonly timeS: number;
  /** Bytes each chip sends along each mesh axis. */
  readonly byAxis: Readonly<Record<string, number>>;
  /**
   * How the time follows from the bytes: `timeS = max(bytes · secondsPerByte, latencyS)` when
   * the collective spans more than one chip (both 0 when it does not).
   */
  readonly secondsPerByte: number;
  readonly latencyS: number;
}

/**
 * Prices a collective equation at the given sizes (the sharding package's `collectiveCost(mesh)`).
 */
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

/** How the estimator treats a primitive beyond its cost rule. */
export interface KernelTraits {
  /** Computes in its first operand's dtype (matmuls), not its result's. */
  readonly computesInOperandDtype: boolean;
  /** With a weight operand, its FLOPs are the book's 2·params·tokens. */
  readonly weightMatmul: boolean;
  /** Writes into its first operand's buffer (a cache updated in place, as with donation). */
  readonly inPlace: boolean;
}

const plain: KernelTraits = { computesInOperandDtype: false, weightMatmul: false, inPlace: false };

/** The primitives the estimator treats specially, in one total table. */
export const kernelTraits: { readonly [P in Primitive]: KernelTraits } = {
  [Primitive.Einsum]: { computesInOperandDtype: true, weightMatmul: true, inPlace: false },
  [Primitive.Exp]: plain,
  [Primitive.Log]: plain,
  [Primitive.Tanh]: plain,
  [Primitive.Rsqrt]: plain,
  [Primitive.Neg]: plain,
  [Primitive.Silu]: plain,
  [Primitive.Gelu]: plain,
  [Primitive.Cast]: plain,
  [Primitive.Add]: plain,
  [Primitive.Sub]: plain,
  [Primitive.Mul]: plain,
  [Primitive.Div]: plain,
  [Primitive.Max]: plain,
  [Primitive.ReduceSum]: plain,
  [Primitive.ReduceMax]: plain,
  [Primitive.ReduceMean]: plain,
  [Primitive.Gather]: plain,
  [Primitive.DynamicSlice]: plain,
  [Primitive.DynamicUpdateSlice]: {
    computesInOperandDtype: false,
    weightMatmul: false,
    inPlace: true,
  },
  [Primitive.Rename]: plain,
  [Primitive.Split]: plain,
  [Primitive.Merge]: plain,
  [Primitive.Concatenate]: plain,
  [Primitive.FlashAttention]: { computesInOperandDtype: true, weightMatmul: false, inPlace: false },
  [Primitive.Shard]: plain,
  [Primitive.AllGather]: plain,
  [Primitive.ReduceScatter]: plain,
  [Primitive.AllReduce]: plain,
  [Primitive.AllToAll]: plain,
  [Primitive.ShardSlice]: plain,
};

/** One equation's FLOPs and the bytes it reads and writes, by its primitive's cost rule. */
export function eqnCost(eqn: Eqn, sizes: SizeContext): OpCost {
  const out = costSink();
  costInto(eqn, sizes, out);
  return {
    flops: out.flops,
    transcendentals: out.transcendentals,
    reads: out.reads.slice(0, eqn.inputs.length),
    writes: out.writes.slice(0, eqn.outputs.length),
  };
}

/** One equation's cost written into `out` (a sink reused across equations). */
export function costInto(eqn: Eqn, sizes: SizeContext, out: CostSink): void {
  const rule = costRules[eqn.primitive] as (e: Eqn, s: SizeContext, o: CostSink) => void;
  rule(eqn, sizes, out);
}

/** A fused group's FLOPs and the HBM bytes that cross its boundary. */
export interface GroupCost {
  readonly flops: number;
  readonly transcendentals: number;
  readonly read: number;
  readonly written: number;
}

/** An OpEstimate whose printed fields are formatted only when read (reports show a few). */
const NO_AXES: Readonly<Record<string, number>> = Object.freeze({});

/** Everything a kernel's estimate is made of, by name. */
export interface KernelFields {
  readonly program: Program;
  readonly group: FusionGroup;
  /** The equation that names the kernel (its einsum, gather, … or its root). */
  readonly main: Eqn;
  /** The equation whose result the kernel writes. */
  readonly root: Eqn;
  readonly computeClass: ComputeClass;
  readonly cost: GroupCost;
  readonly computeS: number;
  readonly hbmS: number;
  readonly ici: CollectiveCost | undefined;
  readonly byRole: { paramBytes: number; cacheBytes: number; weightFlops: number };
}

/** One kernel's estimate, built from named fields. */
export class KernelEstimate implements OpEstimate {
  readonly group: number;
  readonly computeClass: ComputeClass;
  readonly computeS: number;
  readonly hbmS: number;
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
  constructor(k: KernelFields) {
    this.program = k.program;
    this.group = k.group.id;
    this.members = k.group.eqns;
    this.main = k.main;
    this.root = k.root;
    this.computeClass = k.computeClass;
    this.flops = k.cost.flops;
    this.transcendentals = k.cost.transcendentals;
    this.bytesRead = k.cost.read;
    this.bytesWritten = k.cost.written;
    this.hbmBytes = k.cost.read + k.cost.written;
    this.paramBytes = k.byRole.paramBytes;
    this.cacheBytes = k.byRole.cacheBytes;
    this.weightFlops = k.byRole.weightFlops;
    this.computeS = k.computeS;
    this.hbmS = k.hbmS;
    this.iciBytes = k.ici?.bytes ?? 0;
    this.iciByAxis = k.ici?.byAxis ?? NO_AXES;
    this.iciS = k.ici?.timeS ?? 0;
    this.timeS = Math.max(k.computeS, k.hbmS, this.iciS);
    this.bound = boundOf(k.computeS, k.hbmS, this.iciS);
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

/** The dtype class a kernel computes in: its first operand's for matmuls, else its result's. */
export function computeClassOf(eqn: Eqn): ComputeClass {
  if (kernelTraits[eqn.primitive].computesInOperandDtype) {
    const a = eqn.inputs[0]!;
    if (a.kind === "var") return computeClass(a.aval.dtype);
  }
  return computeClass(eqn.outputs[0]!.aval.dtype);
}
