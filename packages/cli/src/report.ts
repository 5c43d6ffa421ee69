import {
  type Bound,
  type Dims,
  type Efficiency,
  formatBytes,
  formatGroupTable,
  formatLocation,
  formatMemory,
  formatTime,
  formatTotals,
  type GroupedEstimate,
  groupEstimate,
  type OpGroup,
  table,
} from "@shardcost/core";
import { compileStepPeriodic, type ResolvedLayout } from "@shardcost/serving";
import { type Compiled, type Mesh, printMesh } from "@shardcost/sharding";
import { type CliLayout, layoutLabel } from "./layout-file.js";
import {
  assumptionLine,
  chipKey,
  compileModel,
  efficiencyOf,
  type Model,
  resolveFor,
  stepQuery,
  tokensPerStep,
} from "./setup.js";

/**
 * Collectives of one kind over the same axes in the JSON report: count, bytes each chip sends,
 * time.
 */
export interface CollectiveRow {
  readonly kind: string;
  readonly axes: string;
  readonly bytesPerChip: number;
  readonly timeS: number;
  readonly count: number;
}

/** One row of the JSON report's op table: kernels of the same op, types and source line, merged. */
export interface OpRow {
  readonly op: string;
  readonly fused: readonly string[];
  /** The result's local (per-chip) type. */
  readonly result: string;
  /** `file:line:col` of the call that traced it. */
  readonly source: string;
  readonly count: number;
  readonly flops: number;
  readonly hbmBytes: number;
  readonly iciBytes: number;
  readonly timeS: number;
  readonly bound: Bound;
}

/** The stable JSON report of `shardcost estimate --json` (documented in the README). */
export interface JsonReport {
  readonly model: string;
  readonly phase: string | null;
  readonly mesh: {
    readonly chip: string;
    readonly axes: Record<string, number>;
    readonly chips: number;
  };
  /** The named layout and the choices it made for this model, mesh and batch. */
  readonly layout: { readonly name: string; readonly resolved: readonly string[] } | null;
  readonly dims: Record<string, number>;
  readonly perChip: {
    readonly flops: number;
    readonly hbmBytes: number;
    readonly iciBytes: number;
  };
  readonly memory: {
    readonly paramBytes: number;
    readonly kvCacheBytes: number;
    readonly activationBytes: number;
    readonly totalBytes: number;
    readonly capacityBytes: number;
    readonly fits: boolean;
  };
  readonly time: {
    readonly computeS: number;
    readonly hbmS: number;
    readonly iciS: number;
    /** The headline step: collectives overlapped with kernels (= `overlappedS`). */
    readonly stepS: number;
    readonly serialS: number;
    readonly overlappedS: number;
    readonly bound: Bound;
  };
  readonly throughput: { readonly tokensPerS: number; readonly tokensPerSPerChip: number };
  /** The fractions of peak FLOP/s, HBM and link bandwidth the figures assume (default 1). */
  readonly assumptions: Efficiency;
  readonly collectives: readonly CollectiveRow[];
  readonly ops: readonly OpRow[];
}

/** A step estimated for the CLI: its grouped estimate and the report. */
export interface Estimated {
  readonly model: Model;
  readonly mesh: Mesh;
  readonly layout: CliLayout | undefined;
  /**
   * The pipeline's passes (traced, lowered, fused, estimated) when the step was traced in
   * full; a built-in model is estimated from two- and three-layer traces unless asked.
   */
  readonly compiled: Compiled | undefined;
  readonly estimate: GroupedEstimate;
  readonly report: JsonReport;
}

/** A step traced in full: every kernel of it, as `explain` and `trace` show them. */
export interface FullEstimate extends Estimated {
  readonly compiled: Compiled;
}

/** Per-op rows of the JSON report: core's kernel groups (one per op, type and line). */
export function opRows(groups: readonly OpGroup[]): OpRow[] {
  return groups.map((g) => ({
    op: g.first.label,
    fused: g.first.fused,
    result: g.first.resultType,
    source: formatLocation(g.first.source?.location),
    count: g.count,
    flops: g.flops,
    hbmBytes: g.hbmBytes,
    iciBytes: g.iciBytes,
    timeS: g.timeS,
    bound: g.first.bound,
  }));
}

/** Collectives by kind and axes: how many, the bytes each chip sends, their time. */
export function collectiveRows(groups: readonly OpGroup[]): CollectiveRow[] {
  const rows = new Map<string, CollectiveRow>();
  for (const g of groups) {
    const o = g.first;
    const c = o.collective;
    if (!c || (g.iciBytes === 0 && g.iciS === 0)) continue;
    const kind = c.kind;
    const axes = c.axes === "" ? Object.keys(o.iciByAxis).join("") : c.axes;
    const key = `${kind}|${axes}`;
    const r = rows.get(key);
    rows.set(
      key,
      r
        ? {
            ...r,
            bytesPerChip: r.bytesPerChip + g.iciBytes,
            timeS: r.timeS + g.iciS,
            count: r.count + g.count,
          }
        : { kind, axes, bytesPerChip: g.iciBytes, timeS: g.iciS, count: g.count },
    );
  }
  return [...rows.values()].sort((a, b) => b.timeS - a.timeS || a.kind.localeCompare(b.kind));
}

/** How `estimateModel` runs a step. */
export interface EstimateOptions {
  /** Trace every layer, not two and three layers extrapolated (default: periodic). */
  readonly full?: boolean;
}

/**
 * A step for the CLI: a built-in model from two- and three-layer compiles, extrapolated to
 * its depth (per-op rows, totals and memory equal a full trace's); a model file, or any model
 * with `full`, traced in full.
 */
export function estimateModel(
  model: Model,
  m: Mesh,
  layout: CliLayout | undefined,
  batch?: number,
  options: EstimateOptions = {},
): Estimated {
  const resolved = resolveFor(model, m, layout, batch);
  const periodic =
    model.kind === "builtin" && options.full !== true
      ? compileStepPeriodic(model.config, stepQuery(model, batch), resolved, m)
      : undefined;
  if (periodic) return estimated(model, m, layout, batch, resolved, periodic, undefined);
  const compiled = compileModel(model, m, resolved, batch);
  const step = { estimate: groupEstimate(compiled.estimate), dims: compiled.lowered.dims };
  return estimated(model, m, layout, batch, resolved, step, compiled);
}

/** A step traced in full, every kernel kept (`explain`, `trace`). */
export function estimateFull(
  model: Model,
  m: Mesh,
  layout: CliLayout | undefined,
  batch?: number,
): FullEstimate {
  const e = estimateModel(model, m, layout, batch, { full: true });
  return { ...e, compiled: e.compiled! };
}

function estimated(
  model: Model,
  m: Mesh,
  layout: CliLayout | undefined,
  batch: number | undefined,
  resolved: ResolvedLayout | undefined,
  step: { readonly estimate: GroupedEstimate; readonly dims: Dims },
  compiled: Compiled | undefined,
): Estimated {
  const est = step.estimate;
  const t = est.totals;
  const mem = est.memory;
  const tokens = tokensPerStep(batch === undefined ? model : withBatch(model, batch));
  const tokensPerS = t.stepS > 0 ? tokens / t.stepS : 0;
  const report: JsonReport = {
    model: model.name,
    phase: model.kind === "builtin" ? model.phase : null,
    mesh: {
      chip: chipKey(m.chip),
      axes: Object.fromEntries(m.axes.map((a) => [a.name, a.size])),
      chips: m.chips,
    },
    layout: layout ? { name: layoutLabel(layout), resolved: resolved?.choices ?? [] } : null,
    dims: { ...step.dims },
    perChip: { flops: t.flops, hbmBytes: t.hbmBytes, iciBytes: t.iciBytes },
    memory: {
      paramBytes: mem.paramBytes,
      kvCacheBytes: mem.cacheBytes,
      activationBytes: mem.activationBytes,
      totalBytes: mem.totalBytes,
      capacityBytes: mem.capacityBytes,
      fits: mem.fits,
    },
    time: {
      computeS: t.computeS,
      hbmS: t.hbmS,
      iciS: t.iciS,
      stepS: t.stepS,
      serialS: t.serialS,
      overlappedS: t.overlappedS,
      bound: t.bound,
    },
    throughput: { tokensPerS, tokensPerSPerChip: tokensPerS / m.chips },
    assumptions: efficiencyOf(m.chip),
    collectives: collectiveRows(est.groups),
    ops: opRows(est.groups),
  };
  return { model, mesh: m, layout, compiled, estimate: est, report };
}

export function withBatch(model: Model, batch: number): Model {
  return model.kind === "builtin"
    ? { ...model, batch }
    : { ...model, dims: { ...model.dims, B: batch } };
}

export function describeModel(model: Model): string {
  if (model.kind === "file") {
    const dims = Object.entries(model.dims)
      .map(([k, v]) => `${k}=${v}`)
      .join(" ");
    return `${model.name} · ${dims}`;
  }
  const what = model.phase === "decode" ? `KV cache ${model.seq}` : `prompt ${model.seq}`;
  return (
    `${model.name} ${model.phase} · batch ${model.batch} · ${what} · weights ${model.weights} · ` +
    `KV ${model.kv} · compute ${model.compute} · ${model.attention} attention`
  );
}

/** What the op table's notation means, printed under it. */
export const OP_LEGEND =
  "×N kernels merged · +N ops fused into the kernel · B_Y: dim B split over mesh axis Y · " +
  "{U_X}: partial sums over X, not yet reduced";

/** The terminal report of `shardcost estimate`. */
export function formatEstimate(e: Estimated, top = 15): string {
  const r = e.report;
  const lines = [
    describeModel(e.model),
    `on ${printMesh(e.mesh)}${e.layout ? ` · layout ${layoutLabel(e.layout)}` : ""}`,
    "",
    `Per chip, kernels of one step (the same op on the same line merged; the ${top} slowest, in program order):`,
    formatGroupTable(e.estimate, top),
    OP_LEGEND,
  ];
  if (r.collectives.length > 0) {
    lines.push(
      "",
      "Collectives per chip:",
      table(
        ["kind", "axes", "count", "sent per chip", "time"],
        r.collectives.map((c) => [
          c.kind,
          c.axes,
          String(c.count),
          formatBytes(c.bytesPerChip),
          formatTime(c.timeS),
        ]),
        ["left", "left", "right", "right", "right"],
      ),
    );
  }
  lines.push(
    "",
    "Memory per chip:",
    formatMemory(e.estimate),
    "",
    assumptionLine(r.assumptions),
    formatTotals(e.estimate),
  );
  const tp = r.throughput;
  lines.push(
    `${fmt(tp.tokensPerS)} tokens/s, ${fmt(tp.tokensPerSPerChip)} tokens/s/chip ` +
      `(${formatTime(r.time.stepS)} a step, collectives overlapped)`,
  );
  return lines.join("\n");
}

const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x.toPrecision(3));
