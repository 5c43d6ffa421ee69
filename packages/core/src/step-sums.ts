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

/** What one kernel adds to a step's sums. */
export type KernelFigures = Pick<
  OpEstimate,
  | "flops"
  | "hbmBytes"
  | "paramBytes"
  | "cacheBytes"
  | "weightFlops"
  | "iciBytes"
  | "computeS"
  | "hbmS"
  | "iciS"
  | "timeS"
>;

/** Sums being accumulated, kernel by kernel (`addKernel`). */
export type SumsInProgress = { -readonly [K in keyof StepSums]: number };

/** Empty sums to add kernels to. */
export function emptySums(): SumsInProgress {
  // A literal (one object shape, fields in one order); the type checks every figure is here.
  return {
    flops: 0,
    hbmBytes: 0,
    paramBytes: 0,
    cacheBytes: 0,
    weightFlops: 0,
    iciBytes: 0,
    computeS: 0,
    hbmS: 0,
    iciS: 0,
    timeS: 0,
    kernelS: 0,
    computeBoundS: 0,
    weightTrafficS: 0,
    cacheTrafficS: 0,
    activationTrafficS: 0,
  };
}

/** Sets every figure of sums being accumulated back to 0 (to reuse one record). */
export function clearSums(s: SumsInProgress): void {
  // Written out: a store by computed name can make V8 keep every figure boxed, and then each
  // addition to it allocates.
  s.flops = 0;
  s.hbmBytes = 0;
  s.paramBytes = 0;
  s.cacheBytes = 0;
  s.weightFlops = 0;
  s.iciBytes = 0;
  s.computeS = 0;
  s.hbmS = 0;
  s.iciS = 0;
  s.timeS = 0;
  s.kernelS = 0;
  s.computeBoundS = 0;
  s.weightTrafficS = 0;
  s.cacheTrafficS = 0;
  s.activationTrafficS = 0;
}

/**
 * Adds one kernel to a step's sums (`times` over, for a kernel that repeats): every figure,
 * `kernelS` unless it is a collective, and its time to what binds it (`attribute`). The one
 * place a kernel is summed (the estimator and the multilinear re-costing both call it; the
 * compiler checks every figure of `StepSums` is set).
 */
export function addKernel(s: SumsInProgress, o: KernelFigures, times = 1): void {
  s.flops += times * o.flops;
  s.hbmBytes += times * o.hbmBytes;
  s.paramBytes += times * o.paramBytes;
  s.cacheBytes += times * o.cacheBytes;
  s.weightFlops += times * o.weightFlops;
  s.iciBytes += times * o.iciBytes;
  s.computeS += times * o.computeS;
  s.hbmS += times * o.hbmS;
  s.iciS += times * o.iciS;
  s.timeS += times * o.timeS;
  if (o.iciS === 0) {
    const t = times * o.timeS;
    s.kernelS += t;
    attribute(s, t, o.computeS >= o.hbmS, o.hbmBytes, o.paramBytes, o.cacheBytes);
  }
}

/** The sums over a step's kernels. */
export function sumKernels(ops: readonly KernelFigures[]): StepSums {
  const sums = emptySums();
  for (const o of ops) addKernel(sums, o);
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
  // Written out for the same reason as `clearSums` (the literal has every figure: checked).
  const sums: SumsInProgress = {
    flops: combine(a.flops, b.flops),
    hbmBytes: combine(a.hbmBytes, b.hbmBytes),
    paramBytes: combine(a.paramBytes, b.paramBytes),
    cacheBytes: combine(a.cacheBytes, b.cacheBytes),
    weightFlops: combine(a.weightFlops, b.weightFlops),
    iciBytes: combine(a.iciBytes, b.iciBytes),
    computeS: combine(a.computeS, b.computeS),
    hbmS: combine(a.hbmS, b.hbmS),
    iciS: combine(a.iciS, b.iciS),
    timeS: combine(a.timeS, b.timeS),
    kernelS: combine(a.kernelS, b.kernelS),
    computeBoundS: combine(a.computeBoundS, b.computeBoundS),
    weightTrafficS: combine(a.weightTrafficS, b.weightTrafficS),
    cacheTrafficS: combine(a.cacheTrafficS, b.cacheTrafficS),
    activationTrafficS: combine(a.activationTrafficS, b.activationTrafficS),
  };
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
  // Written out rather than spread: a sweep makes this object often.
  return {
    flops: s.flops,
    hbmBytes: s.hbmBytes,
    paramBytes: s.paramBytes,
    cacheBytes: s.cacheBytes,
    weightFlops: s.weightFlops,
    iciBytes: s.iciBytes,
    computeS: s.computeS,
    hbmS: s.hbmS,
    iciS: s.iciS,
    timeS: s.timeS,
    kernelS: s.kernelS,
    computeBoundS: s.computeBoundS,
    weightTrafficS: s.weightTrafficS,
    cacheTrafficS: s.cacheTrafficS,
    activationTrafficS: s.activationTrafficS,
    stepS: overlappedS,
    serialS: s.timeS,
    overlappedS,
    bound: boundOf(s.computeS, s.hbmS, s.iciS),
  };
}
