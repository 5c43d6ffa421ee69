import { isCollective } from "./collectives.js";
import { avalBytes, type SizeContext } from "./cost-rules.js";
import { debugPass } from "./debug.js";
import type { ComputeClass } from "./dtype.js";
import { ShardcostError } from "./errors.js";
import {
  CACHE,
  type EstimatePlan,
  estimatePlan,
  groupCost,
  kernelPricing,
  liveBytes,
  PARAM,
} from "./estimate-plan.js";
import { type FusedProgram, fuseKernels, printFused } from "./fusion.js";
import { type Chip, chip as lookupChip, peakFlops } from "./hardware.js";
import type { Program } from "./ir.js";
import {
  type CollectiveCost,
  type CollectiveCostFn,
  computeClassOf,
  KernelEstimate,
  kernelTraits,
  type OpEstimate,
} from "./kernel-cost.js";
import { type MemoryEstimate, memoryVerdict } from "./memory.js";
import { printOp } from "./printer.js";
import {
  addKernel,
  emptySums,
  type KernelFigures,
  type StepTotals,
  stepTotals,
  sumKernels,
} from "./step-sums.js";

/** A step's per-chip estimate: its kernels, their totals and the memory it holds. */
export interface Estimate {
  readonly chip: Chip;
  readonly ops: readonly OpEstimate[];
  readonly totals: StepTotals;
  readonly memory: MemoryEstimate;
}

/** How `estimate` sizes and prices a program. */
export interface EstimateOptions {
  /** Dim sizes as the chip holds them (default: global sizes, one chip holds everything). */
  readonly sizes?: SizeContext;
  /** Interconnect cost of collectives; lowered programs (which contain them) need it. */
  readonly collectives?: CollectiveCostFn;
}

/** Every dim at its global size: the program as one chip that holds everything runs it. */
export function globalSizes(program: Program): SizeContext {
  return { size: (d) => program.dims[d.dim]! };
}

/**
 * The estimate pass: per-kernel roofline on one chip — FLOPs at the peak of each kernel's
 * compute dtype, HBM bytes at the chip's bandwidth, collectives at the interconnect's cost —
 * and memory by liveness. Takes a fused program (the fusion pass's result, reusable at many
 * sizes) or a program, which it fuses first.
 */
export function estimate(
  input: Program | FusedProgram,
  chipOrName: Chip | string,
  options: EstimateOptions = {},
): Estimate {
  return estimateWith(input, chipOrName, options);
}

/** What `sampleCosts` records besides the estimate: collective link facts, live bytes. */
export interface EstimateProbe {
  /** Per kernel: seconds per byte sent and latency of its collective (0 for other kernels). */
  collective?: (group: number, cost: CollectiveCost) => void;
  /** Bytes live at each kernel position. */
  live?: (live: Float64Array) => void;
  /**
   * Per kernel: its figures and compute class. When given, the estimate makes no per-kernel
   * rows (`ops` is empty): a caller that only needs the figures (the multilinear re-costing's
   * corners) takes them here.
   */
  kernel?: (group: number, figures: KernelFigures, computeClass: ComputeClass) => void;
  /**
   * With `kernel`: the kernels whose figures the caller already has (the same equations priced
   * at the same sizes before), left out — the totals then leave them out too.
   */
  known?: (group: number) => boolean;
}

/** `estimate`, reporting what a probe asks for along the way (internal to the package). */
export function estimateWith(
  input: Program | FusedProgram,
  chipOrName: Chip | string,
  options: EstimateOptions,
  probe: EstimateProbe = {},
): Estimate {
  const chip = typeof chipOrName === "string" ? lookupChip(chipOrName) : chipOrName;
  const fused = "fusion" in input ? input : fuseKernels(input);
  if (!("fusion" in input)) debugPass("fuse", () => printFused(fused));
  const { program, graph, fusion } = fused;
  const sizes = options.sizes ?? globalSizes(program);
  const plan = estimatePlan(program, graph, fusion);
  const pricing = kernelPricing(program, plan, sizes);
  const { cost, readBytes } = pricing;
  const lean = probe.kernel !== undefined;
  const ops: OpEstimate[] = lean ? [] : new Array(fusion.groups.length);
  const sums = emptySums();
  const rec: { -readonly [K in keyof KernelFigures]: number } = emptySums();
  const role = plan.role;
  const { kernels } = plan;
  const known = lean ? probe.known : undefined;
  for (let gi = 0; gi < fusion.groups.length; gi++) {
    if (known?.(gi)) continue;
    const group = fusion.groups[gi]!;
    groupCost(pricing, gi, group);
    let paramBytes = 0;
    let cacheBytes = 0;
    const first = kernels.varStart[gi]!;
    for (let s = 0; s < kernels.varStart[gi + 1]! - first; s++) {
      const r = role[kernels.readVars[first + s]!];
      if (r === PARAM) paramBytes += readBytes[s]!;
      else if (r === CACHE) cacheBytes += readBytes[s]!;
    }
    const kernel = group.kernel === undefined ? undefined : program.eqns[group.kernel]!;
    // A matmul that reads weights (directly, or through fused casts): 2·params·tokens.
    const weightFlops =
      kernel && kernelTraits[kernel.primitive].weightMatmul && paramBytes > 0
        ? cost.kernelFlops
        : 0;
    const main = kernel ?? program.eqns[group.root]!;
    const cls = computeClassOf(main);
    let ici: CollectiveCost | undefined;
    if (isCollective(main.primitive)) {
      if (!options.collectives) {
        throw new ShardcostError(
          "input",
          `${printOp(main)}: a lowered program needs a mesh to cost its collectives; ` +
            "estimate it with the sharding package's compile (or estimateSpmd)",
        );
      }
      ici = options.collectives(main, sizes);
      probe.collective?.(group.id, ici);
    }
    const computeS = cost.flops / peakFlops(chip, cls);
    const hbmS = (cost.read + cost.written) / chip.hbmBandwidth;
    if (lean) {
      // The figures a KernelEstimate would hold, summed as `sumKernels` sums them.
      rec.flops = cost.flops;
      rec.hbmBytes = cost.read + cost.written;
      rec.paramBytes = paramBytes;
      rec.cacheBytes = cacheBytes;
      rec.weightFlops = weightFlops;
      rec.iciBytes = ici?.bytes ?? 0;
      rec.computeS = computeS;
      rec.hbmS = hbmS;
      rec.iciS = ici?.timeS ?? 0;
      rec.timeS = Math.max(computeS, hbmS, rec.iciS);
      addKernel(sums, rec);
      probe.kernel!(group.id, rec, cls);
      continue;
    }
    ops[group.id] = new KernelEstimate({
      program,
      group,
      main,
      root: program.eqns[group.root]!,
      computeClass: cls,
      cost,
      computeS,
      hbmS,
      ici,
      byRole: { paramBytes, cacheBytes, weightFlops },
    });
  }
  return {
    chip,
    ops: lean ? [] : ops,
    totals: stepTotals(lean ? sums : sumKernels(ops)),
    memory: memoryAt(program, plan, sizes, chip.hbmBytes, probe.live),
  };
}

/**
 * What one chip holds at these sizes: parameters and caches resident, activations at their peak
 * over the kernel positions (reported to `profile` when given).
 */
function memoryAt(
  program: Program,
  plan: EstimatePlan,
  sizes: SizeContext,
  capacityBytes: number,
  profile?: (live: Float64Array) => void,
): MemoryEstimate {
  let paramBytes = 0;
  let cacheBytes = 0;
  for (const input of program.inputs) {
    if (input.role === "param") paramBytes += avalBytes(input.var.aval, sizes);
    else if (input.role === "cache") cacheBytes += avalBytes(input.var.aval, sizes);
  }
  const live = liveBytes(program, plan.memory, plan.kernels.readStart.length, sizes);
  let peak = 0;
  for (let p = 0; p < live.length; p++) peak = Math.max(peak, live[p]!);
  profile?.(live);
  return memoryVerdict({ paramBytes, cacheBytes, activationBytes: peak }, capacityBytes);
}
