import type { SizeContext } from "./cost-rules.js";
import { type EstimateOptions, estimateWith } from "./estimate.js";
import type { FusedProgram } from "./fusion.js";
import type { Chip } from "./hardware.js";
import { type MemoryEstimate, memoryVerdict } from "./memory.js";
import {
  addKernel,
  emptySums,
  type KernelFigures,
  type StepTotals,
  stepTotals,
} from "./step-sums.js";
import type { Dims } from "./tracer.js";

/** A step's totals and memory at given dim sizes, without per-kernel rows. */
export interface StepCostsAt {
  readonly totals: StepTotals;
  readonly memory: MemoryEstimate;
}

/** A fused program's costs as functions of some of its dims: evaluated, not re-estimated. */
export interface LinearCosts {
  /** The dims the costs vary with; every other dim stays at its size in the program. */
  readonly free: readonly string[];
  /** Totals and memory with the free dims at `dims` (the others as built). */
  at(dims: Dims): StepCostsAt;
}

/** Per-kernel figures kept at each corner, in this order. */
const FIGURES = 8; // flops, hbmBytes, paramBytes, cacheBytes, weightFlops, iciBytes, computeS, hbmS

/**
 * The costs of `fused` as multilinear functions of the `free` dims. Every figure of a kernel —
 * FLOPs, bytes read and written (by weights, caches, the rest), bytes a collective sends — is a
 * product of dim sizes in which each dim appears at most once, so it is multilinear in any set
 * of dims, and 2^k estimates at the corners of a box (each free dim at its size and at twice
 * it) give it everywhere. Times follow per kernel as the estimator takes them (compute, HBM,
 * and a collective's max(bytes · seconds per byte, latency)), so each kernel's bound is still
 * decided at the sizes asked; the live-bytes profile gives the memory peak the same way. A
 * further estimate at three times each size checks the model: if it disagrees (a cost that is
 * not a product of sizes), the result is undefined and the caller estimates directly.
 * Undefined also for more than three free dims.
 */
export function linearCosts(
  fused: FusedProgram,
  chip: Chip,
  options: Pick<EstimateOptions, "collectives"> & { readonly sizesOf: (dims: Dims) => SizeContext },
  free: readonly string[],
): LinearCosts | undefined {
  const base = fused.program.dims;
  const k = free.length;
  if (k > 3 || free.some((f) => !(base[f]! > 0))) return undefined;
  const corners = 1 << k;
  const kernels = fused.fusion.groups.length;
  const positions = kernels + 1;
  const fig = new Float64Array(kernels * FIGURES * corners);
  const live = new Float64Array(positions * corners);
  const resident = new Float64Array(2 * corners);
  const secondsPerByte = new Float64Array(kernels);
  const latencyS = new Float64Array(kernels);
  const collective = new Uint8Array(kernels);
  const scaled = (c: number, by: number): Dims => {
    const dims: Record<string, number> = { ...base };
    free.forEach((f, i) => {
      if ((c >> i) & 1) dims[f] = base[f]! * by;
    });
    return dims;
  };
  for (let c = 0; c < corners; c++) {
    const est = estimateWith(
      fused,
      chip,
      { sizes: options.sizesOf(scaled(c, 2)), collectives: options.collectives },
      {
        collective: (g, cost) => {
          collective[g] = 1;
          secondsPerByte[g] = cost.secondsPerByte;
          latencyS[g] = cost.latencyS;
        },
        live: (l) => {
          for (let p = 0; p < positions; p++) live[p * corners + c] = l[p]!;
        },
      },
    );
    est.ops.forEach((o, g) => {
      const at = g * FIGURES * corners + c;
      const values = [
        o.flops,
        o.hbmBytes,
        o.paramBytes,
        o.cacheBytes,
        o.weightFlops,
        o.iciBytes,
        o.computeS,
        o.hbmS,
      ];
      for (let f = 0; f < FIGURES; f++) fig[at + f * corners] = values[f]!;
    });
    resident[c] = est.memory.paramBytes;
    resident[corners + c] = est.memory.cacheBytes;
  }
  const weights = new Float64Array(corners);
  // One scratch record, refilled per kernel: the sums' shape has every kernel figure.
  const kernel: { -readonly [K in keyof KernelFigures]: number } = emptySums();
  const model: LinearCosts = {
    free,
    at(dims: Dims): StepCostsAt {
      for (let c = 0; c < corners; c++) {
        let w = 1;
        for (let i = 0; i < k; i++) {
          const t = dims[free[i]!]! / base[free[i]!]! - 1;
          w *= (c >> i) & 1 ? t : 1 - t;
        }
        weights[c] = w;
      }
      const value = (arr: Float64Array, at: number) => {
        let v = 0;
        for (let c = 0; c < corners; c++) v += weights[c]! * arr[at + c]!;
        return v;
      };
      const sums = emptySums();
      const rec = kernel; // a sweep asks this often
      for (let g = 0; g < kernels; g++) {
        const at = g * FIGURES * corners;
        rec.flops = value(fig, at);
        rec.hbmBytes = value(fig, at + corners);
        rec.paramBytes = value(fig, at + 2 * corners);
        rec.cacheBytes = value(fig, at + 3 * corners);
        rec.weightFlops = value(fig, at + 4 * corners);
        rec.iciBytes = value(fig, at + 5 * corners);
        rec.computeS = value(fig, at + 6 * corners);
        rec.hbmS = value(fig, at + 7 * corners);
        rec.iciS = collective[g] ? Math.max(rec.iciBytes * secondsPerByte[g]!, latencyS[g]!) : 0;
        rec.timeS = Math.max(rec.computeS, rec.hbmS, rec.iciS);
        addKernel(sums, rec);
      }
      let peak = 0;
      for (let p = 0; p < positions; p++) peak = Math.max(peak, value(live, p * corners));
      const memory = memoryVerdict(
        {
          paramBytes: value(resident, 0),
          cacheBytes: value(resident, corners),
          activationBytes: peak,
        },
        chip.hbmBytes,
      );
      const totals = stepTotals(sums);
      return { totals, memory };
    },
  };
  // The check: at three times each free size, the model must give what an estimate gives.
  const check = scaled(corners - 1, 3);
  const want = estimateWith(fused, chip, {
    sizes: options.sizesOf(check),
    collectives: options.collectives,
  });
  const got = model.at(check);
  const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(b), 1e-30);
  const t = want.totals;
  const ok =
    close(got.totals.flops, t.flops) &&
    close(got.totals.hbmBytes, t.hbmBytes) &&
    close(got.totals.iciBytes, t.iciBytes) &&
    close(got.totals.timeS, t.timeS) &&
    close(got.totals.overlappedS, t.overlappedS) &&
    close(got.memory.totalBytes, want.memory.totalBytes);
  return ok ? model : undefined;
}
