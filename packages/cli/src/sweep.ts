import { type DType, ShardcostError } from "@shardcost/core";
import { type LlamaConfig, type Phase, tokensPerStep } from "@shardcost/ops";
import { type LayoutName, paretoFrontier, StepEstimator } from "@shardcost/serving";
import type { Mesh } from "@shardcost/sharding";
import { estimateModel } from "./report.js";
import { type FileModel, meshText } from "./setup.js";

/** The grid a sweep walks: every combination of these. */
export interface SweepGrid {
  readonly config: LlamaConfig;
  readonly phase: Phase;
  readonly seq: number;
  readonly attention: "flash" | "naive";
  readonly batches: readonly number[];
  readonly meshes: readonly Mesh[];
  readonly layouts: readonly LayoutName[];
  readonly weights: readonly DType[];
  readonly kv: readonly DType[];
  readonly compute: readonly DType[];
}

/**
 * One configuration of a sweep: mesh, layout, dtypes and batch with its step, throughput and memory
 * (null where the layout cannot be used).
 */
export interface SweepRow {
  readonly mesh: string;
  readonly chips: number;
  readonly layout: LayoutName;
  readonly batch: number;
  readonly weights: DType;
  readonly kv: DType;
  readonly compute: DType;
  /** Why the layout cannot apply (then every figure is null). */
  readonly error: string | null;
  readonly fits: boolean | null;
  readonly memoryBytes: number | null;
  /** The step with collectives overlapped (the headline); `serialS` with none. */
  readonly stepS: number | null;
  readonly serialS: number | null;
  readonly tokensPerS: number | null;
  readonly tokensPerSPerChip: number | null;
  readonly bound: string | null;
  /** On the latency–throughput Pareto frontier (of the rows that fit). */
  readonly pareto: boolean;
}

export function gridSize(g: SweepGrid): number {
  return (
    g.batches.length *
    g.meshes.length *
    g.layouts.length *
    g.weights.length *
    g.kv.length *
    g.compute.length
  );
}

/**
 * Every configuration of the grid, costed by the sweep engine (each structure traced once,
 * layers extrapolated, batch sizes re-costed), in a stable order, with the Pareto frontier of
 * step latency against tokens/s/chip marked among the rows that fit.
 */
export function runSweep(
  g: SweepGrid,
  onProgress?: (done: number, total: number) => void,
): SweepRow[] {
  const engine = new StepEstimator({ manyBatches: true });
  const total = gridSize(g);
  const rows: SweepRow[] = [];
  // Configurations in a stable order: mesh, layout, weights, KV, compute, then batch (so one
  // structure's batches are costed together, from the engine's cache).
  const configs = product(g.meshes, g.layouts, g.weights, g.kv, g.compute, g.batches);
  const names = new Map(g.meshes.map((m) => [m, meshText(m)]));
  for (const [m, layout, weights, kv, compute, batch] of configs) {
    const base = { mesh: names.get(m)!, chips: m.chips, layout, batch, weights, kv, compute };
    try {
      const query = {
        phase: g.phase,
        batch,
        seq: g.seq,
        weights,
        kv,
        compute,
        attention: g.attention,
      };
      const c = engine.step(g.config, query, layout, m);
      const tps = tokensPerStep(g.phase, batch, g.seq) / c.totals.stepS;
      rows.push({
        mesh: base.mesh,
        chips: base.chips,
        layout,
        batch,
        weights,
        kv,
        compute,
        error: null,
        fits: c.memory.fits,
        memoryBytes: c.memory.totalBytes,
        stepS: c.totals.stepS,
        serialS: c.totals.serialS,
        tokensPerS: tps,
        tokensPerSPerChip: tps / m.chips,
        bound: c.totals.bound,
        pareto: false,
      });
    } catch (e) {
      if (!(e instanceof ShardcostError)) throw e;
      rows.push({ ...base, ...failed(e) });
    }
    if (onProgress && rows.length % 64 === 0) onProgress(rows.length, total);
  }
  onProgress?.(rows.length, total);
  return markPareto(rows);
}

interface Frontier {
  readonly fits: boolean | null;
  readonly stepS: number | null;
  readonly tokensPerSPerChip: number | null;
  readonly pareto: boolean;
}

/** Rows that fit and that no other fitting row beats on both latency and tokens/s/chip. */
export function markPareto<R extends Frontier>(rows: readonly R[]): R[] {
  const frontier = paretoFrontier(
    rows.map((r) => ({ fits: r.fits, latencyS: r.stepS, throughput: r.tokensPerSPerChip })),
  );
  return rows.map((r, i) => (frontier.has(i) ? { ...r, pareto: true } : r));
}

/** A row of a model file's sweep: a mesh and a choice of dim sizes. */
export interface FileSweepRow extends Frontier {
  readonly mesh: string;
  readonly chips: number;
  readonly dims: Readonly<Record<string, number>>;
  readonly error: string | null;
  readonly memoryBytes: number | null;
  readonly serialS: number | null;
  readonly tokensPerS: number | null;
  readonly bound: string | null;
}

/** Every mesh × every combination of the dim lists, each traced, lowered and costed. */
export function runFileSweep(
  model: FileModel,
  meshes: readonly Mesh[],
  dimLists: Readonly<Record<string, readonly number[]>>,
  onProgress?: (done: number, total: number) => void,
): FileSweepRow[] {
  let combos: Record<string, number>[] = [{}];
  for (const [name, values] of Object.entries(dimLists)) {
    combos = combos.flatMap((c) => values.map((v) => ({ ...c, [name]: v })));
  }
  const total = meshes.length * combos.length;
  const rows: FileSweepRow[] = [];
  for (const m of meshes) {
    for (const combo of combos) {
      const dims = { ...model.dims, ...combo };
      const base = { mesh: meshText(m), chips: m.chips, dims: combo, pareto: false };
      try {
        const r = estimateModel({ ...model, dims }, m, undefined).report;
        rows.push({
          ...base,
          error: null,
          fits: r.memory.fits,
          memoryBytes: r.memory.totalBytes,
          stepS: r.time.stepS,
          serialS: r.time.serialS,
          tokensPerS: r.throughput.tokensPerS,
          tokensPerSPerChip: r.throughput.tokensPerSPerChip,
          bound: r.time.bound,
        });
      } catch (e) {
        if (!(e instanceof ShardcostError)) throw e;
        rows.push({ ...base, ...failed(e) });
      }
      onProgress?.(rows.length, total);
    }
  }
  return markPareto(rows);
}

export function fileSweepCsv(rows: readonly FileSweepRow[], dimNames: readonly string[]): string {
  const header = ["mesh", "chips", ...dimNames, ...FIGURES].join(",");
  const lines = rows.map((r) =>
    [r.mesh, r.chips, ...dimNames.map((d) => r.dims[d]), ...FIGURES.map((f) => r[f])]
      .map(csvCell)
      .join(","),
  );
  return `${[header, ...lines].join("\n")}\n`;
}

/** The figures of a sweep row, in CSV column order (after the configuration's columns). */
const FIGURES = [
  "fits",
  "memoryBytes",
  "stepS",
  "serialS",
  "tokensPerS",
  "tokensPerSPerChip",
  "bound",
  "pareto",
  "error",
] as const;

const COLUMNS: readonly (keyof SweepRow)[] = [
  "mesh",
  "chips",
  "layout",
  "batch",
  "weights",
  "kv",
  "compute",
  ...FIGURES,
];

const csvCell = (v: unknown) => {
  if (v === null || v === undefined) return "";
  // Numbers and booleans never need quoting; text (an error, a mesh) may.
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

export function sweepCsv(rows: readonly SweepRow[]): string {
  return `${[COLUMNS.join(","), ...rows.map((r) => COLUMNS.map((c) => csvCell(r[c])).join(","))].join("\n")}\n`;
}

/** A one-line progress bar for a terminal: `[#####.....] 512/1000`. */
export function progressBar(done: number, total: number, width = 30): string {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${done}/${total}`;
}

/** Every combination of one item from each list, the last list varying fastest. */
function* product<T extends readonly (readonly unknown[])[]>(
  ...lists: T
): Generator<{ [K in keyof T]: T[K][number] }> {
  const at = lists.map(() => 0);
  if (lists.some((l) => l.length === 0)) return;
  for (;;) {
    yield lists.map((l, i) => l[at[i]!]) as { [K in keyof T]: T[K][number] };
    let k = lists.length - 1;
    while (k >= 0 && ++at[k]! === lists[k]!.length) at[k--] = 0;
    if (k < 0) return;
  }
}

/** A configuration that cannot be built: why, and no figures. */
function failed(e: ShardcostError) {
  return {
    error: oneLine(e.message),
    fits: null,
    memoryBytes: null,
    stepS: null,
    serialS: null,
    tokensPerS: null,
    tokensPerSPerChip: null,
    bound: null,
    pareto: false,
  };
}

/** An error message on one line (a CSV cell): "… \n  at file:line" becomes "… at file:line". */
function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, " ");
}
