import type { SizeContext } from "./cost-rules.js";
import { byteSize, type ComputeClass, computeClass, type DType } from "./dtype.js";
import { type EstimateOptions, estimateWith } from "./estimate.js";
import type { FusedProgram } from "./fusion.js";
import { type Chip, peakFlops } from "./hardware.js";
import type { InputRole } from "./ir.js";
import { type MemoryEstimate, memoryVerdict } from "./memory.js";
import { retypeStorage } from "./retype.js";
import {
  addKernel,
  clearSums,
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

/** An input role whose dtype a program can be stored in: its weights or its caches. */
export type StoredRole = Exclude<InputRole, "activation">;

/**
 * A stored role's dtype as a variable of the costs: `from`, the dtype the program stores the
 * role in, and two more the program can be retyped to keeping its structure (see
 * `retypeStorage`) — `corner`, where the model is built, and `check`, where it is checked. The
 * three differ in width, and `corner` computes in another class than `from`.
 */
export interface StoredVariable {
  readonly role: StoredRole;
  readonly from: DType;
  readonly corner: DType;
  readonly check: DType;
}

/** The stored dtypes a `LinearCosts` is evaluated at, one for each of its stored variables. */
export type StoredDtypes = Readonly<Partial<Record<StoredRole, DType>>>;

/** A fused program's costs as functions of some of its dims: evaluated, not re-estimated. */
export interface LinearCosts {
  /** The dims the costs vary with; every other dim stays at its size in the program. */
  readonly free: readonly string[];
  /** The stored roles whose dtypes the costs vary with (the others stay as built). */
  readonly stored: readonly StoredVariable[];
  /**
   * Totals and memory with the free dims at `dims` (the others as built) and each stored role
   * in `dtypes` (as built where not given).
   */
  at(dims: Dims, dtypes?: StoredDtypes): StepCostsAt;
}

/** Per-kernel figures kept at each corner, in this order. */
const FIGURES = 7; // flops, hbmBytes, paramBytes, cacheBytes, weightFlops, iciBytes, hbmS

/** Both rows of the resident bytes (weights, caches). */
const BOTH = Int32Array.of(0, 1);

/**
 * Per kernel of `fused`, 1 when `retyped` (the same program with stored roles retyped) has every
 * one of its equations unchanged — the same objects, which `retypeStorage` keeps for what it
 * does not touch — so its figures do not move with the retyping.
 */
function sameKernels(fused: FusedProgram, retyped: FusedProgram): Uint8Array {
  const { groups } = fused.fusion;
  const before = fused.program.eqns;
  const after = retyped.program.eqns;
  const same = new Uint8Array(groups.length);
  for (let g = 0; g < groups.length; g++) {
    const eqns = groups[g]!.eqns;
    let alike = 1;
    for (let i = 0; i < eqns.length && alike; i++)
      if (before[eqns[i]!] !== after[eqns[i]!]) alike = 0;
    same[g] = alike;
  }
  return same;
}

/** Σ weights[d] · arr[at + d] over the first `n` corners. */
function dot(weights: Float64Array, arr: Float64Array, at: number, n: number): number {
  let v = 0;
  for (let d = 0; d < n; d++) v += weights[d]! * arr[at + d]!;
  return v;
}

/** The most variables a model is built for: 2^k corner estimates. */
const MAX_VARIABLES = 4;

/**
 * The costs of `fused` as multilinear functions of the `free` dims and of the widths of the
 * `stored` roles' dtypes. Every figure of a kernel — FLOPs, bytes read and written (by weights,
 * caches, the rest), bytes a collective sends — is a sum of products of dim sizes in which each
 * dim appears at most once, each term times one value's dtype width; so it is multilinear in
 * any set of dims and stored widths, and 2^k estimates at the corners of a box (each free dim at
 * its size and at twice it, each stored role in its dtype and in its `corner`) give it
 * everywhere. Times follow per kernel as the estimator takes them: compute at the peak of the
 * kernel's class (which a stored dtype decides for the kernels that compute in it), HBM, and a
 * collective's max(bytes · seconds per byte, latency) — so each kernel's bound is still decided
 * at the point asked; the live-bytes profile gives the memory peak the same way. A further
 * estimate at three times each size with each stored role in its `check` dtype checks the
 * model, down to each kernel's compute class: if it disagrees (a cost that is not of that
 * form, such as an odd count of int4 elements rounded up), the result is undefined and the
 * caller estimates directly. Undefined also for more than four variables.
 */
export function linearCosts(
  fused: FusedProgram,
  chip: Chip,
  options: Pick<EstimateOptions, "collectives"> & { readonly sizesOf: (dims: Dims) => SizeContext },
  free: readonly string[],
  stored: readonly StoredVariable[] = [],
): LinearCosts | undefined {
  const base = fused.program.dims;
  const nDims = free.length;
  const k = nDims + stored.length;
  if (k > MAX_VARIABLES || free.some((f) => !(base[f]! > 0))) return undefined;
  for (const s of stored) {
    const [w0, w1, w2] = [byteSize(s.from), byteSize(s.corner), byteSize(s.check)];
    if (w0 === w1 || w0 === w2 || w1 === w2) return undefined;
    // The kernels that compute in a stored dtype are found by the corner moving their class.
    if (computeClass(s.corner) === computeClass(s.from)) return undefined;
    if (stored.filter((t) => t.role === s.role).length > 1) return undefined;
  }
  const corners = 1 << k;
  const kernels = fused.fusion.groups.length;
  const positions = kernels + 1;
  const fig = new Float64Array(kernels * FIGURES * corners);
  const live = new Float64Array(positions * corners);
  const resident = new Float64Array(2 * corners);
  const secondsPerByte = new Float64Array(kernels);
  const latencyS = new Float64Array(kernels);
  const collective = new Uint8Array(kernels);
  // Each kernel's compute class as built, and which stored variable (if any) decides it.
  const builtClass: ComputeClass[] = new Array(kernels);
  const follows = new Int8Array(kernels).fill(-1);
  const dimsAt = (c: number, by: number): Dims => {
    const dims: Record<string, number> = { ...base };
    for (let i = 0; i < nDims; i++) if ((c >> i) & 1) dims[free[i]!] = base[free[i]!]! * by;
    return dims;
  };
  // The program with each stored role whose bit is set in `roles` retyped to `pick(variable)`.
  const retyped = (roles: number, pick: (s: StoredVariable) => DType): FusedProgram => {
    if (roles === 0) return fused;
    const change: Partial<Record<StoredRole, { from: DType; to: DType }>> = {};
    stored.forEach((s, i) => {
      if ((roles >> i) & 1) change[s.role] = { from: s.from, to: pick(s) };
    });
    return { ...fused, program: retypeStorage(fused.program, change) };
  };
  // Corners that differ only in dims share their program (dims are the low bits).
  const programs: FusedProgram[] = [];
  const cornerProgram = (c: number) =>
    (programs[c >> nDims] ??= retyped(c >> nDims, (s) => s.corner));
  // For each choice of retyped roles, the kernels its retyping leaves alone (every equation the
  // same object): their figures are those at the same dims with nothing retyped.
  const alike: Uint8Array[] = [];
  const dimMask = (1 << nDims) - 1;
  for (let c = 0; c < corners; c++) {
    const roles = c >> nDims;
    // One stored role retyped alone: the kernels whose class moves compute in it.
    const alone = c !== 0 && (c & dimMask) === 0 && (roles & (roles - 1)) === 0;
    const program = cornerProgram(c);
    if (roles !== 0) alike[roles] ??= sameKernels(fused, program);
    const same = roles === 0 ? undefined : alike[roles];
    const est = estimateWith(
      program,
      chip,
      { sizes: options.sizesOf(dimsAt(c, 2)), collectives: options.collectives },
      {
        collective: (g, cost) => {
          collective[g] = 1;
          secondsPerByte[g] = cost.secondsPerByte;
          latencyS[g] = cost.latencyS;
        },
        live: (l) => {
          for (let p = 0; p < positions; p++) live[p * corners + c] = l[p]!;
        },
        kernel: (g, o, computeClass) => {
          const at = g * FIGURES * corners + c;
          fig[at] = o.flops;
          fig[at + corners] = o.hbmBytes;
          fig[at + 2 * corners] = o.paramBytes;
          fig[at + 3 * corners] = o.cacheBytes;
          fig[at + 4 * corners] = o.weightFlops;
          fig[at + 5 * corners] = o.iciBytes;
          fig[at + 6 * corners] = o.hbmS;
          if (c === 0) builtClass[g] = computeClass;
          else if (alone && computeClass !== builtClass[g]) follows[g] = Math.log2(roles);
        },
        ...(same ? { known: (g: number) => same[g] === 1 } : {}),
      },
    );
    if (same) {
      // The kernels left out: their figures at the corner with the same dims, nothing retyped.
      const from = c & dimMask;
      for (let g = 0; g < kernels; g++) {
        if (same[g] !== 1) continue;
        const row = g * FIGURES * corners;
        for (let f = 0; f < FIGURES; f++)
          fig[row + f * corners + c] = fig[row + f * corners + from]!;
      }
    }
    resident[c] = est.memory.paramBytes;
    resident[corners + c] = est.memory.cacheBytes;
  }
  // Kernels with the same figures at every corner and the same way of being timed (a model's
  // repeated layers) are evaluated once and added as often as they occur; positions with the
  // same live bytes are compared once.
  const span = FIGURES * corners;
  const kernelSet = distinct(
    kernels,
    (a, b) => {
      for (let i = 0; i < span; i++) if (fig[a * span + i] !== fig[b * span + i]) return false;
      return (
        builtClass[a] === builtClass[b] &&
        follows[a] === follows[b] &&
        collective[a] === collective[b] &&
        secondsPerByte[a] === secondsPerByte[b] &&
        latencyS[a] === latencyS[b]
      );
    },
    (g) => hashRow(fig, g * span, span),
  );
  const positionSet = distinct(
    positions,
    (a, b) => {
      for (let c = 0; c < corners; c++)
        if (live[a * corners + c] !== live[b * corners + c]) return false;
      return true;
    },
    (p) => hashRow(live, p * corners, corners),
  );
  const followed = stored.map((_, i) => follows.includes(i));
  const weights = new Float64Array(corners);
  const builtPeak = Float64Array.from(builtClass, (cls) => peakFlops(chip, cls));
  const storedBytes = stored.map((s) => [byteSize(s.from), byteSize(s.corner)] as const);
  // One scratch record, refilled per kernel: the sums' shape has every kernel figure. And one
  // for the sums (`stepTotals` copies them out).
  const kernel: { -readonly [K in keyof KernelFigures]: number } = emptySums();
  const scratchSums = emptySums();
  // A sweep asks many sizes at each choice of stored dtypes: the model with its stored widths
  // fixed at a choice (a model in the free dims alone, 2^dims corners) is kept per choice.
  const dimCorners = 1 << nDims;
  const dimSpan = FIGURES * dimCorners;
  const atDtypes = new Map<string, AtDtypes>();
  const fixedAt = (dtypes: StoredDtypes): AtDtypes => {
    if (stored.length === 0) return { fig, live, resident, peaks: builtPeak };
    let key = "";
    for (const s of stored) key += `${dtypes[s.role] ?? s.from},`;
    let found = atDtypes.get(key);
    if (found !== undefined) return found;
    // The weight of each choice of stored corners (the high bits of a corner's index).
    const roleWeights = new Float64Array(1 << stored.length);
    const peakOf: number[] = [];
    const t: number[] = [];
    stored.forEach((s, i) => {
      const dtype = dtypes[s.role] ?? s.from;
      const [w0, w1] = storedBytes[i]!;
      t.push((byteSize(dtype) - w0) / (w1 - w0));
      // Only where a kernel computes in the role's dtype (a chip may lack its class).
      peakOf.push(followed[i] ? peakFlops(chip, computeClass(dtype)) : 0);
    });
    for (let r = 0; r < roleWeights.length; r++) {
      let w = 1;
      for (let i = 0; i < stored.length; i++) w *= (r >> i) & 1 ? t[i]! : 1 - t[i]!;
      roleWeights[r] = w;
    }
    // `size` rows of dimCorners values from rows of all corners, each dims corner summed over
    // the role corners: the rows `first[u] * per + j` (the distinct kernels' or positions').
    const contract = (from: Float64Array, size: number, first: Int32Array, per: number) => {
      const to = new Float64Array(size * dimCorners);
      for (let u = 0; u < first.length; u++) {
        for (let j = 0; j < per; j++) {
          const row = first[u]! * per + j;
          for (let d = 0; d < dimCorners; d++) {
            let v = 0;
            for (let r = 0; r < roleWeights.length; r++) {
              v += roleWeights[r]! * from[row * corners + (r << nDims) + d]!;
            }
            to[row * dimCorners + d] = v;
          }
        }
      }
      return to;
    };
    const peaksAt = new Float64Array(kernels);
    for (let g = 0; g < kernels; g++) {
      const f = follows[g]!;
      peaksAt[g] = f < 0 ? builtPeak[g]! : peakOf[f]!;
    }
    found = {
      fig: contract(fig, kernels * FIGURES, kernelSet.first, FIGURES),
      live: contract(live, positions, positionSet.first, 1),
      resident: contract(resident, 2, BOTH, 1),
      peaks: peaksAt,
    };
    atDtypes.set(key, found);
    return found;
  };
  const model: LinearCosts = {
    free,
    stored,
    at(dims: Dims, dtypes: StoredDtypes = {}): StepCostsAt {
      const fixed = fixedAt(dtypes);
      for (let d = 0; d < dimCorners; d++) {
        let w = 1;
        for (let i = 0; i < nDims; i++) {
          const t = dims[free[i]!]! / base[free[i]!]! - 1;
          w *= (d >> i) & 1 ? t : 1 - t;
        }
        weights[d] = w;
      }
      const value = (arr: Float64Array, at: number) => dot(weights, arr, at, dimCorners);
      const sums = scratchSums;
      clearSums(sums);
      const rec = kernel; // a sweep asks this often
      const { first, times } = kernelSet;
      const f = fixed.fig;
      for (let u = 0; u < first.length; u++) {
        const g = first[u]!;
        const at = g * dimSpan;
        rec.flops = value(f, at);
        rec.hbmBytes = value(f, at + dimCorners);
        rec.paramBytes = value(f, at + 2 * dimCorners);
        rec.cacheBytes = value(f, at + 3 * dimCorners);
        rec.weightFlops = value(f, at + 4 * dimCorners);
        rec.iciBytes = value(f, at + 5 * dimCorners);
        rec.computeS = rec.flops / fixed.peaks[g]!;
        rec.hbmS = value(f, at + 6 * dimCorners);
        rec.iciS = collective[g] ? Math.max(rec.iciBytes * secondsPerByte[g]!, latencyS[g]!) : 0;
        rec.timeS = Math.max(rec.computeS, rec.hbmS, rec.iciS);
        addKernel(sums, rec, times[u]!);
      }
      let peak = 0;
      const places = positionSet.first;
      for (let u = 0; u < places.length; u++) {
        peak = Math.max(peak, value(fixed.live, places[u]! * dimCorners));
      }
      const memory = memoryVerdict(
        {
          paramBytes: value(fixed.resident, 0),
          cacheBytes: value(fixed.resident, dimCorners),
          activationBytes: peak,
        },
        chip.hbmBytes,
      );
      const totals = stepTotals(sums);
      return { totals, memory };
    },
  };
  // The check: at three times each free size and each stored role in its check dtype, the model
  // must give what an estimate gives, and each kernel must compute in the class it assumes.
  const check = dimsAt(corners - 1, 3);
  const checkDtypes: Record<string, DType> = {};
  for (const s of stored) checkDtypes[s.role] = s.check;
  const want = estimateWith(
    retyped((1 << stored.length) - 1, (s) => s.check),
    chip,
    {
      sizes: options.sizesOf(check),
      collectives: options.collectives,
    },
  );
  programs.length = 0;
  const got = model.at(check, checkDtypes);
  const assumed = fixedAt(checkDtypes).peaks;
  const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(b), 1e-30);
  const w = want.totals;
  const g = got.totals;
  const ok =
    want.ops.every((o, i) => peakFlops(chip, o.computeClass) === assumed[i]) &&
    close(g.flops, w.flops) &&
    close(g.hbmBytes, w.hbmBytes) &&
    close(g.paramBytes, w.paramBytes) &&
    close(g.cacheBytes, w.cacheBytes) &&
    close(g.iciBytes, w.iciBytes) &&
    close(g.computeS, w.computeS) &&
    close(g.hbmS, w.hbmS) &&
    close(g.timeS, w.timeS) &&
    close(g.overlappedS, w.overlappedS) &&
    close(got.memory.totalBytes, want.memory.totalBytes);
  return ok ? model : undefined;
}

/**
 * The distinct items of `0..count-1` under `same` (items that `hash` apart are never the
 * same): the first of each, and how many there are of it.
 */
function distinct(
  count: number,
  same: (a: number, b: number) => boolean,
  hash: (i: number) => number,
): { first: Int32Array; times: Int32Array } {
  const buckets = new Map<number, number[]>();
  const first: number[] = [];
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const h = hash(i);
    let bucket = buckets.get(h);
    if (bucket === undefined) {
      bucket = [];
      buckets.set(h, bucket);
    }
    const at = bucket.find((u) => same(first[u]!, i));
    if (at === undefined) {
      bucket.push(first.length);
      first.push(i);
      times.push(1);
    } else times[at]!++;
  }
  return { first: Int32Array.from(first), times: Int32Array.from(times) };
}

/** A 32-bit hash of `length` numbers of `values` from `start` (their bits, FNV-style). */
function hashRow(values: Float64Array, start: number, length: number): number {
  const words = new Int32Array(values.buffer, values.byteOffset + start * 8, length * 2);
  let h = 0x811c9dc5;
  for (let i = 0; i < words.length; i++) h = Math.imul(h ^ words[i]!, 0x01000193);
  return h;
}

/** A model's figures with its stored dtypes fixed: per kernel, per position, resident; peaks. */
interface AtDtypes {
  readonly fig: Float64Array;
  readonly live: Float64Array;
  readonly resident: Float64Array;
  readonly peaks: Float64Array;
}
