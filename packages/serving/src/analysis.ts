import {
  type Chip,
  computeClass,
  type DType,
  type Estimate,
  estimate,
  chip as lookupChip,
  type MemoryEstimate,
  memoryVerdict,
  type Program,
  param,
  peakFlops,
  tensor,
  trace,
} from "@shardcost/core";
import {
  type ActivationRole,
  constraintsFrom,
  einsum,
  gatedMlp,
  type LlamaConfig,
  llamaStep,
  type Phase,
  type StepOptions,
  shardingOf,
  specFor,
  tokensPerStep,
} from "@shardcost/ops";
import { compile, type Mesh, mesh as meshOf } from "@shardcost/sharding";
import { type LayoutName, resolveLayout } from "./layouts/index.js";
import { compileStep } from "./step.js";

/**
 * A step's time per chip, in parts (weights, KV, FLOPs, ICI, HBM) and as serial, overlapped and
 * roofline wholes.
 */
export interface StepTime {
  /** Streaming the weights, the KV caches, and the FLOPs, each alone, per chip. */
  readonly paramLoadS: number;
  readonly kvLoadS: number;
  readonly flopsS: number;
  readonly iciS: number;
  readonly hbmS: number;
  /** Kernels (and collectives) one after another; and with collectives fully overlapped. */
  readonly serialS: number;
  readonly overlappedS: number;
  /**
   * The step's own roofline, as if compute, HBM and ICI traffic overlapped across kernels:
   * max(Σ compute, Σ HBM, Σ ICI) — the model behind "step time = bytes / bandwidth".
   */
  readonly rooflineS: number;
  readonly bound: "compute" | "hbm" | "ici";
}

/** A serving step's figures per chip: memory, time, tokens per step and per second, FLOPs. */
export interface StepReport {
  readonly phase: Phase;
  readonly batch: number;
  readonly seq: number;
  readonly chips: number;
  /** Per chip. */
  readonly memory: MemoryEstimate;
  readonly time: StepTime;
  /** Tokens a step produces (decode: one per sequence; prefill: every prompt token). */
  readonly tokensPerStep: number;
  readonly tokensPerS: number;
  readonly tokensPerSPerChip: number;
  readonly flopsPerChip: number;
  /** FLOPs of einsums with weights, per chip: the book's 2·params·tokens / chips. */
  readonly weightFlopsPerChip: number;
  readonly estimate: Estimate;
  readonly program: Program;
}

/** A step for the serving analyses: the model's step options and a phase (default decode). */
export interface ServeOptions extends Omit<StepOptions, "layout"> {
  readonly phase?: Phase;
}

function traceStep(config: LlamaConfig, options: ServeOptions, layout?: StepOptions["layout"]) {
  const spec = llamaStep(
    config,
    options.phase ?? "decode",
    layout ? { ...options, layout } : options,
  );
  return trace(spec.fn, spec.inputs, spec.dims, { sourceLocations: "lazy" });
}

function report(
  options: ServeOptions,
  chips: number,
  c: Chip,
  est: Estimate,
  program: Program,
  scale: number,
  memory: MemoryEstimate,
): StepReport {
  const t = est.totals;
  const phase = options.phase ?? "decode";
  const tokens = tokensPerStep(phase, options.batch, options.seq);
  const serialS = t.serialS / scale;
  const time: StepTime = {
    paramLoadS: t.paramBytes / scale / c.hbmBandwidth,
    kvLoadS: t.cacheBytes / scale / c.hbmBandwidth,
    flopsS: t.computeS / scale,
    iciS: t.iciS,
    hbmS: t.hbmS / scale,
    serialS,
    overlappedS: t.overlappedS / scale,
    rooflineS: Math.max(t.computeS / scale, t.hbmS / scale, t.iciS),
    bound: t.bound,
  };
  // Throughput from the headline step: collectives overlapped with kernels.
  const tokensPerS = tokens / (t.stepS / scale);
  return {
    phase,
    batch: options.batch,
    seq: options.seq,
    chips,
    memory,
    time,
    tokensPerStep: tokens,
    tokensPerS,
    tokensPerSPerChip: tokensPerS / chips,
    flopsPerChip: t.flops / scale,
    weightFlopsPerChip: t.weightFlops / scale,
    estimate: est,
    program,
  };
}

/**
 * A step on `chips` chips with every array split evenly and no communication: the seeds'
 * model of a well-sharded server (each kernel's FLOPs and bytes divided by the chip count).
 */
export function idealStep(
  config: LlamaConfig,
  options: ServeOptions,
  chipName: string | Chip,
  chips: number,
): StepReport {
  const c = typeof chipName === "string" ? lookupChip(chipName) : chipName;
  const program = traceStep(config, options);
  const est = estimate(program, c);
  const m = est.memory;
  const memory = memoryVerdict(
    {
      paramBytes: m.paramBytes / chips,
      cacheBytes: m.cacheBytes / chips,
      activationBytes: m.activationBytes / chips,
    },
    c.hbmBytes,
  );
  return report(options, chips, c, est, program, chips, memory);
}

/** A step under a named layout on a mesh: lowered, with its collectives, costed per chip. */
export function shardedStep(
  config: LlamaConfig,
  options: ServeOptions,
  layout: LayoutName,
  m: Mesh,
): StepReport {
  const query = { ...options, phase: options.phase ?? "decode" };
  const { compiled } = compileStep(config, query, layout, m);
  const est = compiled.estimate;
  return report(options, m.chips, m.chip, est, compiled.traced, 1, est.memory);
}

/**
 * The largest batch whose step fits in `chips` chips' HBM (ideal sharding): memory is affine in
 * the batch, so two traces find it and two more confirm it. 0 if not even the weights fit.
 */
export function maxBatch(
  config: LlamaConfig,
  options: Omit<ServeOptions, "batch">,
  chipName: string,
  chips: number,
): number {
  const total = (batch: number) =>
    idealStep(config, { ...options, batch }, chipName, chips).memory.totalBytes;
  const cap = lookupChip(chipName).hbmBytes;
  const one = total(1);
  const perSeq = total(2) - one;
  let b = Math.max(0, Math.floor((cap - (one - perSeq)) / perSeq));
  while (b > 0 && total(b) > cap) b--;
  while (total(b + 1) <= cap) b++;
  return b;
}

/** TPU v5e slices from one chip to a pod: 1, 2x2, 2x4, 4x4, 4x8, 8x8, 8x16, 16x16. */
export const V5E_SLICES = [1, 4, 8, 16, 32, 64, 128, 256] as const;

/** The fewest chips among `slices` whose HBM holds the step (ideal sharding). */
export function smallestSlice(
  config: LlamaConfig,
  options: ServeOptions,
  chipName: string,
  slices: readonly number[] = V5E_SLICES,
): number | undefined {
  return slices.find((n) => idealStep(config, options, chipName, n).memory.fits);
}

/**
 * Queries per second per chip when each reply is `replyTokens` decode steps long, with the
 * step's serial time (kernels one after another) or its roofline (traffic overlapped).
 */
export function qpsPerChip(
  step: StepReport,
  replyTokens: number,
  time: "serial" | "roofline" = "serial",
): number {
  const stepS = time === "serial" ? step.time.serialS : step.time.rooflineS;
  return step.tokensPerStep / stepS / step.chips / replyTokens;
}

/**
 * The batch at which a traced decode matmul [B, D]·[D, F] turns compute-bound on `chip`:
 * the critical batch of the roofline (≈ C / W_hbm for bf16).
 */
export function criticalBatch(
  D: number,
  F: number,
  weights: DType,
  computeIn: DType,
  chipName: string,
  experts: { readonly experts: number; readonly topK: number } = { experts: 1, topK: 1 },
): number {
  const c = lookupChip(chipName);
  // With experts, each expert sees B·k/E of the batch's tokens and reads its own weights.
  const bound = (B: number) => {
    const tokens = Math.max(1, Math.round((B * experts.topK) / experts.experts));
    const program = trace(
      (t) => einsum("ECD,EDF->ECF", t.x, t.w),
      { x: tensor("x[E, C, D]", computeIn), w: param("W[E, D, F]", weights) },
      { E: experts.experts, C: tokens, D, F },
      { sourceLocations: false },
    );
    return estimate(program, c).totals.bound;
  };
  let lo = 1;
  let hi = 1 << 16;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (bound(mid) === "compute") hi = mid;
    else lo = mid;
  }
  return hi;
}

/** Prefill time at a model FLOPs utilisation: weight-matmul FLOPs / (chips · C · MFU). */
export function prefillTimeAtMfu(
  step: StepReport,
  chipName: string,
  mfu: number,
  computeIn: DType = "bf16",
) {
  const c = lookupChip(chipName);
  return step.weightFlopsPerChip / (peakFlops(c, computeClass(computeIn)) * mfu);
}

/** KV bytes one token adds, from a traced decode step (cache bytes / (batch · positions)). */
export function kvBytesPerToken(config: LlamaConfig, kv: DType = "bf16"): number {
  const step = idealStep(config, { batch: 1, seq: 1, kv, weights: "int8" }, "v5e", 1);
  return step.memory.cacheBytes;
}

/**
 * KV-cache tokens evicted per decode step in steady state: B sequences each live G steps and
 * hold P + G tokens at the end, so B/G sequences finish per step.
 */
export function kvTokensEvictedPerStep(
  config: LlamaConfig,
  batch: number,
  prefillTokens: number,
  decodeTokens: number,
): number {
  const perToken = kvBytesPerToken(config);
  const evictedBytes = (batch / decodeTokens) * (prefillTokens + decodeTokens) * perToken;
  return evictedBytes / perToken;
}

/**
 * Prefill servers per decode server that keep both saturated: a prefill server finishes a
 * request every prefill latency; a decode server finishes B requests every G steps.
 */
export function prefillToDecodeRatio(
  prefillS: number,
  decodeStepS: number,
  decodeTokens: number,
  batch: number,
) {
  return prefillS / ((decodeStepS * decodeTokens) / batch);
}

/** One batch size of a latency–throughput sweep. */
export interface SweepPoint {
  readonly batch: number;
  readonly latencyS: number;
  readonly tokensPerS: number;
  readonly tokensPerSPerChip: number;
  readonly paramLoadS: number;
  readonly kvLoadS: number;
  readonly flopsS: number;
  readonly fits: boolean;
  /** No other point has both lower latency and higher throughput. */
  readonly pareto: boolean;
}

/** Latency against throughput over batch sizes (the plots behind the serving chapter). */
export function latencyThroughputSweep(
  config: LlamaConfig,
  options: Omit<ServeOptions, "batch">,
  chipName: string,
  chips: number,
  batches: readonly number[],
): SweepPoint[] {
  const points = batches.map((batch) => {
    const s = idealStep(config, { ...options, batch }, chipName, chips);
    return {
      batch,
      latencyS: s.time.serialS,
      tokensPerS: s.tokensPerS,
      tokensPerSPerChip: s.tokensPerSPerChip,
      paramLoadS: s.time.paramLoadS,
      kvLoadS: s.time.kvLoadS,
      flopsS: s.time.flopsS,
      fits: s.memory.fits,
    };
  });
  const frontier = paretoFrontier(
    points.map((p) => ({ fits: p.fits, latencyS: p.latencyS, throughput: p.tokensPerS })),
  );
  return points.map((p, i) => ({ ...p, pareto: frontier.has(i) }));
}

/** A point on the latency–throughput plane; `null` where it could not be costed. */
export interface FrontierPoint {
  readonly fits: boolean | null;
  readonly latencyS: number | null;
  readonly throughput: number | null;
}

/**
 * The latency–throughput Pareto frontier: the indices of the points that fit and that no other
 * fitting point beats on both latency and throughput (of exact ties, the first).
 */
export function paretoFrontier(points: readonly FrontierPoint[]): Set<number> {
  const fitting = points
    .map((p, i) => ({ p, i }))
    .filter(({ p }) => p.fits === true)
    .sort((a, b) => a.p.latencyS! - b.p.latencyS! || b.p.throughput! - a.p.throughput!);
  const onFrontier = new Set<number>();
  let best = -Infinity;
  for (const { p, i } of fitting) {
    // Sorted by latency: a point is on the frontier if it beats every faster point's throughput.
    if (p.throughput! > best) {
      onFrontier.add(i);
      best = p.throughput!;
    }
  }
  return onFrontier;
}

/** Logical 3-axis v5e meshes from 8 to 256 chips, as the book's 2D study lays them out. */
export const STUDY_SHAPES: readonly Readonly<Record<string, number>>[] = [
  { X: 2, Y: 2, Z: 2 },
  { X: 2, Y: 2, Z: 4 },
  { X: 2, Y: 4, Z: 4 },
  { X: 4, Y: 4, Z: 4 },
  { X: 4, Y: 4, Z: 8 },
  { X: 4, Y: 8, Z: 8 },
];

/** One mesh and layout of the MLP layout study: communication, compute and step time. */
export interface MlpStudyRow {
  readonly chips: number;
  readonly layout: "1d-ws" | "2d-ws";
  readonly commS: number;
  readonly computeS: number;
  readonly stepS: number;
}

/**
 * One gated-MLP layer of a decode step under the named 1d-ws and 2d-ws layouts (their MLP
 * weights and activation roles, as the whole model uses them), traced, lowered and costed per
 * chip on each mesh. 1D (`Win[D, F_XYZ]`): the input gathered and the output reduce-scattered
 * over every axis, ≈ 2BD/W whatever the chip count. 2D (`Win[D_X, F_YZ]`): gather over YZ,
 * reduce over X, reduce-scatter over YZ, falling as 1/√N (ESTI §3.2): 2D wins past a crossover.
 */
export function mlpLayoutStudy(
  config: LlamaConfig,
  batch: number,
  chipName: string,
  shapes: readonly Readonly<Record<string, number>>[] = STUDY_SHAPES,
): MlpStudyRow[] {
  const rows: MlpStudyRow[] = [];
  for (const shape of shapes) {
    const m = meshOf(chipName, shape);
    for (const layout of ["1d-ws", "2d-ws"] as const) {
      const l = resolveLayout(layout, config, m, { phase: "decode", batch, seq: 1 });
      const at = constraintsFrom<ActivationRole>(l.activations);
      const spec = specFor(l);
      const program = trace(
        (t) => {
          const x = at("mlpIn", at("mlpNormIn", t.x));
          const y = gatedMlp(x, t, {
            onProjected: (h) => at("mlpGateUp", h),
            onHidden: (h) => at("mlpHidden", h),
          });
          return at("residual", y);
        },
        {
          x: tensor(shardingOf("x", "[B, D]", l.activations?.residual ?? {}), "bf16"),
          gate: param(spec("gate", "Wgate"), "bf16"),
          up: param(spec("up", "Wup"), "bf16"),
          down: param(spec("down", "Wdown"), "bf16"),
        },
        { B: batch, D: config.D, F: config.F },
        { sourceLocations: false },
      );
      const t = compile(program, { mesh: m }).estimate.totals;
      rows.push({ chips: m.chips, layout, commS: t.iciS, computeS: t.computeS, stepS: t.serialS });
    }
  }
  return rows;
}
