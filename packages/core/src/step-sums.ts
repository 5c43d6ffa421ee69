import { type Bound, boundOf, type OpEstimate } from "./kernel-cost.js";

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
  /**
   * The kernels' time by what it goes to: compute-bound kernels' time, and HBM-bound kernels'
   * time split by their bytes — weights read, KV caches read, and the rest (activations read and
   * written, cache updates). The four add up to `kernelS`.
   */
  readonly computeBoundS: number;
  readonly weightTrafficS: number;
  readonly cacheTrafficS: number;
  readonly activationTrafficS: number;
}

/**
 * Every figure of `StepSums`, written once: extrapolating layers and any other linear
 * combination of steps goes through this list (the compiler checks it is complete).
 */
export const STEP_FIGURES = [
  "flops",
  "hbmBytes",
  "paramBytes",
  "cacheBytes",
  "weightFlops",
  "iciBytes",
  "computeS",
  "hbmS",
  "iciS",
  "timeS",
  "kernelS",
  "computeBoundS",
  "weightTrafficS",
  "cacheTrafficS",
  "activationTrafficS",
] as const satisfies readonly (keyof StepSums)[];

type Unlisted = Exclude<keyof StepSums, (typeof STEP_FIGURES)[number]>;
const everyFigureListed: [Unlisted] extends [never] ? true : never = true;
void everyFigureListed;

/**
 * The sums over a step's kernels (`kernelS`: the kernels' times, collectives left out). One pass
 * written out for speed (a sweep sums thousands of steps); the compiler checks it has every figure.
 */
export function sumKernels(ops: readonly OpEstimate[]): StepSums {
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
  const split = { computeBoundS: 0, weightTrafficS: 0, cacheTrafficS: 0, activationTrafficS: 0 };
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
    if (o.iciS === 0) {
      kernelS += o.timeS;
      attribute(split, o.timeS, o.computeS >= o.hbmS, o.hbmBytes, o.paramBytes, o.cacheBytes);
    }
  }
  const sums: StepSums = {
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
    ...split,
  };
  return sums;
}

/**
 * Adds one kernel's time to what it goes to: all to compute when compute binds it, else split by
 * its HBM bytes among weights, caches and the rest.
 */
export function attribute(
  into: {
    computeBoundS: number;
    weightTrafficS: number;
    cacheTrafficS: number;
    activationTrafficS: number;
  },
  timeS: number,
  computeBound: boolean,
  hbmBytes: number,
  paramBytes: number,
  cacheBytes: number,
): void {
  if (computeBound || hbmBytes <= 0) {
    into.computeBoundS += timeS;
    return;
  }
  const perByte = timeS / hbmBytes;
  into.weightTrafficS += paramBytes * perByte;
  into.cacheTrafficS += cacheBytes * perByte;
  into.activationTrafficS += (hbmBytes - paramBytes - cacheBytes) * perByte;
}

/** Each figure as `combine(a's, b's)`: e.g. layer extrapolation a + n·(b − a). */
export function combineSums(
  a: StepSums,
  b: StepSums,
  combine: (x: number, y: number) => number,
): StepSums {
  const sums = {} as Record<keyof StepSums, number>;
  for (const f of STEP_FIGURES) sums[f] = combine(a[f], b[f]);
  return sums;
}

/** A step's totals: its sums, the serial and the overlapped step time, and what binds it. */
export interface StepTotals extends StepSums {
  /**
   * The step time every report leads with: collectives overlapped with kernels (`overlappedS`),
   * as XLA schedules them; `serialS` is the bound with no overlap at all.
   */
  readonly stepS: number;
  /** The same as `timeS`, named for comparison with `overlappedS`. */
  readonly serialS: number;
  /** Collectives fully hidden behind compute: max(Σ kernel times, Σ collective times). */
  readonly overlappedS: number;
  readonly bound: Bound;
}

/** Totals from sums: the serial and overlapped step, and what binds it. */
export function stepTotals(s: StepSums): StepTotals {
  const overlappedS = Math.max(s.kernelS, s.iciS);
  return {
    ...s,
    stepS: overlappedS,
    serialS: s.timeS,
    overlappedS,
    bound: boundOf(s.computeS, s.hbmS, s.iciS),
  };
}
