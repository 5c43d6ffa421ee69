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
}

/**
 * Every figure of `StepSums`, written once: summing kernels, extrapolating layers and any other
 * linear combination of steps goes through this list (the compiler checks it is complete).
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
] as const satisfies readonly (keyof StepSums)[];

type Unlisted = Exclude<keyof StepSums, (typeof STEP_FIGURES)[number]>;
const everyFigureListed: [Unlisted] extends [never] ? true : never = true;
void everyFigureListed;

/** A kernel's contribution to each figure (`kernelS` is its time unless it is a collective). */
function figureOf(o: OpEstimate, f: (typeof STEP_FIGURES)[number]): number {
  return f === "kernelS" ? (o.iciS === 0 ? o.timeS : 0) : o[f];
}

/** The sums over a step's kernels. */
export function sumKernels(ops: readonly OpEstimate[]): StepSums {
  const sums = {} as Record<keyof StepSums, number>;
  for (const f of STEP_FIGURES) {
    let s = 0;
    for (const o of ops) s += figureOf(o, f);
    sums[f] = s;
  }
  return sums;
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
  /** The same as `timeS`, named for comparison with `overlappedS`. */
  readonly serialS: number;
  /** Collectives fully hidden behind compute: max(Σ kernel times, Σ collective times). */
  readonly overlappedS: number;
  readonly bound: Bound;
}

/** Totals from sums: the serial and overlapped step, and what binds it. */
export function stepTotals(s: StepSums): StepTotals {
  return {
    ...s,
    serialS: s.timeS,
    overlappedS: Math.max(s.kernelS, s.iciS),
    bound: boundOf(s.computeS, s.hbmS, s.iciS),
  };
}
