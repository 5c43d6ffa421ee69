import {
  formatBytes,
  formatCapacity,
  formatFlops,
  formatTime,
  linkName,
  ShardcostError,
  type StepTotals,
} from "@shardcost/core";
import { tokensPerStep } from "@shardcost/ops";
import { STUDY_SHAPES, StepEstimator } from "@shardcost/serving";
import { type Mesh, mesh } from "@shardcost/sharding";
import { describeModel, type Estimated, estimateModel } from "./report.js";
import { meshText, stepQuery } from "./setup.js";
import { esc, lineChart, stackedBars } from "./svg.js";
import { markPareto } from "./sweep.js";

export interface BatchPoint {
  readonly batch: number;
  readonly stepS: number;
  readonly tokensPerSPerChip: number;
  readonly fits: boolean;
  readonly paramLoadS: number;
  readonly kvLoadS: number;
  readonly flopsS: number;
  readonly iciS: number;
}

export interface CrossoverPoint {
  readonly chips: number;
  readonly mesh: string;
  readonly layout: "1d-ws" | "2d-ws";
  readonly stepS: number;
  readonly iciS: number;
}

/** The figures behind the HTML report: a batch sweep and, for built-in models, the crossover. */
export interface ReportData {
  readonly main: Estimated;
  readonly batches: readonly BatchPoint[];
  readonly crossover: readonly CrossoverPoint[];
}

export function reportData(main: Estimated, batches: readonly number[]): ReportData {
  const { model, mesh: m, layout } = main;
  const bw = m.chip.hbmBandwidth;
  const engine = new StepEstimator();
  // One batch size's step: through the sweep engine for a built-in model under a layout,
  // else traced in full (a model file's shardings, or one chip).
  const costs = (
    batch: number,
  ): { totals: StepTotals; fits: boolean; tokensPerSPerChip: number } => {
    if (model.kind === "builtin" && layout) {
      const c = engine.step(model.config, stepQuery(model, batch), layout, m);
      const tokens = tokensPerStep(model.phase, batch, model.seq);
      return {
        totals: c.totals,
        fits: c.memory.fits,
        tokensPerSPerChip: tokens / c.totals.stepS / m.chips,
      };
    }
    const e = estimateModel(model, m, undefined, batch);
    return {
      totals: e.estimate.totals,
      fits: e.estimate.memory.fits,
      tokensPerSPerChip: e.report.throughput.tokensPerSPerChip,
    };
  };
  const points: BatchPoint[] = [];
  const sweepable = model.kind === "builtin" || model.dims.B !== undefined;
  for (const batch of sweepable ? batches : []) {
    const c = unlessUnsplittable(() => costs(batch));
    if (!c) continue;
    const t = c.totals;
    points.push({
      batch,
      stepS: t.stepS,
      tokensPerSPerChip: c.tokensPerSPerChip,
      fits: c.fits,
      paramLoadS: t.paramBytes / bw,
      kvLoadS: t.cacheBytes / bw,
      flopsS: t.computeS,
      iciS: t.iciS,
    });
  }
  const crossover: CrossoverPoint[] = [];
  if (model.kind === "builtin") {
    for (const shape of STUDY_SHAPES) {
      const sm = mesh(m.chip, shape);
      for (const l of ["1d-ws", "2d-ws"] as const) {
        const c = unlessUnsplittable(() => engine.step(model.config, stepQuery(model), l, sm));
        if (!c) continue;
        crossover.push({
          chips: sm.chips,
          mesh: meshText(sm),
          layout: l,
          stepS: c.totals.stepS,
          iciS: c.totals.iciS,
        });
      }
    }
  }
  return { main, batches: points, crossover };
}

const CSS = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1180px; color: #1d2330; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
.sub { color: #5a6375; margin-top: 0; }
.cards { display: flex; gap: 1rem; flex-wrap: wrap; }
.card { border: 1px solid #d9dde6; border-radius: 6px; padding: .6rem .9rem; min-width: 150px; }
.card b { display: block; font-size: 1.2rem; }
.charts { display: flex; flex-wrap: wrap; gap: 1rem; }
.chart { border: 1px solid #e3e6ee; border-radius: 6px; background: #fff; }
.chart .title { font-weight: 600; font-size: 14px; } .chart .tick, .chart .legend, .chart .pointlabel { font-size: 11px; fill: #3c4455; }
.chart .label { font-size: 12px; fill: #3c4455; } .chart .axis { stroke: #7b8394; } .chart .grid { stroke: #eceef3; }
table { border-collapse: collapse; font-size: 12.5px; } th, td { padding: 3px 8px; border-bottom: 1px solid #eceef3; text-align: right; white-space: nowrap; }
th { background: #f5f6f9; } td.l, th.l { text-align: left; } .bad { color: #b3261e; font-weight: 600; } .good { color: #1b6e3a; font-weight: 600; }
`;

const fmtRate = (x: number) => (x >= 100 ? x.toFixed(0) : x.toPrecision(3));

/** One self-contained page: no script, no external resource; charts are inline SVG. */
export function reportHtml(d: ReportData): string {
  const r = d.main.report;
  const mem = r.memory;
  const verdict = mem.fits
    ? `<span class="good">fits</span>, ${formatBytes(mem.capacityBytes - mem.totalBytes)} to spare`
    : `<span class="bad">does not fit</span>: ${formatBytes(mem.totalBytes - mem.capacityBytes)} over (${(mem.totalBytes / mem.capacityBytes).toFixed(1)}× HBM)`;
  const sections: string[] = [];
  const pts = d.batches;
  if (pts.length > 0) {
    const rows = markPareto(
      pts.map((p) => ({
        fits: p.fits,
        stepS: p.stepS,
        tokensPerSPerChip: p.tokensPerSPerChip,
        pareto: false,
      })),
    );
    const frontier = pts
      .filter((_, i) => rows[i]!.pareto)
      .map((p) => [p.tokensPerSPerChip, p.stepS * 1e3] as const)
      .sort((a, b) => a[0] - b[0]);
    const fit = pts.filter((p) => p.fits);
    const over = pts.filter((p) => !p.fits);
    const latency = lineChart(
      [
        {
          name: "fits",
          color: "#2f6fdf",
          points: fit.map((p) => [p.tokensPerSPerChip, p.stepS * 1e3]),
          labels: fit.map((p) => `B=${p.batch}`),
        },
        {
          name: "does not fit",
          color: "#c2c7d0",
          points: over.map((p) => [p.tokensPerSPerChip, p.stepS * 1e3]),
          labels: over.map((p) => `B=${p.batch}`),
        },
        { name: "Pareto frontier", color: "#e07b00", points: frontier, line: true },
      ],
      {
        title: "Latency vs throughput (by batch)",
        xLabel: "tokens/s per chip",
        yLabel: "step latency (ms)",
      },
    );
    const breakdown = stackedBars(
      pts.map((p) => ({
        label: String(p.batch),
        values: [p.paramLoadS * 1e3, p.kvLoadS * 1e3, p.flopsS * 1e3, p.iciS * 1e3],
      })),
      [
        { name: "parameter load", color: "#2f6fdf" },
        { name: "KV-cache load", color: "#7fb2ff" },
        { name: "FLOPs", color: "#e07b00" },
        { name: linkName(d.main.mesh.chip), color: "#8e44ad" },
      ],
      {
        title: "Step-time breakdown by batch (each alone)",
        xLabel: "batch",
        yLabel: "ms per step",
      },
    );
    sections.push(
      `<h2>Batch sweep on ${esc(meshText(d.main.mesh))}</h2><div class="charts">${latency}${breakdown}</div>`,
    );
  }
  if (d.crossover.length > 0) {
    const series = (["1d-ws", "2d-ws"] as const).map((l, i) => {
      const ps = d.crossover.filter((c) => c.layout === l);
      return {
        name: l,
        color: i === 0 ? "#2f6fdf" : "#e07b00",
        points: ps.map((c) => [c.chips, c.stepS * 1e3] as const),
        line: true,
      };
    });
    const comm = (["1d-ws", "2d-ws"] as const).map((l, i) => {
      const ps = d.crossover.filter((c) => c.layout === l);
      return {
        name: `${l} ICI`,
        color: i === 0 ? "#2f6fdf" : "#e07b00",
        points: ps.map((c) => [c.chips, c.iciS * 1e3] as const),
        line: true,
      };
    });
    sections.push(
      `<h2>Layout crossover: 1d-ws vs 2d-ws</h2><div class="charts">${lineChart(series, { title: "Step time by chip count", xLabel: "chips", yLabel: "ms per step", logX: true })}${lineChart(comm, { title: "Communication per step", xLabel: "chips", yLabel: `${linkName(d.main.mesh.chip)} ms per step`, logX: true })}</div>`,
    );
  }
  const opRows = [...r.ops]
    .sort((a, b) => b.timeS - a.timeS)
    .map(
      (o) =>
        `<tr><td>×${o.count}</td><td class="l">${esc(o.op)}${o.fused.length ? ` +${o.fused.length}` : ""}</td><td class="l">${esc(o.result)}</td><td class="l">${esc(o.source)}</td><td>${formatFlops(o.flops)}</td><td>${formatBytes(o.hbmBytes)}</td><td>${o.iciBytes ? formatBytes(o.iciBytes) : ""}</td><td>${formatTime(o.timeS)}</td><td class="l">${o.bound}</td></tr>`,
    )
    .join("\n");
  const card = (label: string, value: string) =>
    `<div class="card">${esc(label)}<b>${value}</b></div>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>shardcost — ${esc(r.model)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>${CSS}</style></head>
<body>
<h1>${esc(r.model)} on ${esc(meshText(d.main.mesh))}${r.layout ? ` · ${esc(r.layout.name)}` : ""}</h1>
<p class="sub">${esc(describeModel(d.main.model))} · per chip, one step</p>
<div class="cards">
${card("step (collectives overlapped)", formatTime(r.time.stepS))}
${card("overlapped", formatTime(r.time.overlappedS))}
${card("bound", r.time.bound)}
${card("tokens/s/chip", fmtRate(r.throughput.tokensPerSPerChip))}
${card("memory per chip", `${formatBytes(mem.totalBytes)} of ${formatCapacity(mem.capacityBytes)}`)}
</div>
<p>Memory: ${verdict}. Parameters ${formatBytes(mem.paramBytes)}, KV caches ${formatBytes(mem.kvCacheBytes)}, activations ${formatBytes(mem.activationBytes)} (peak live).</p>
${sections.join("\n")}
<h2>Per-op table (per chip; the same op on the same line merged)</h2>
<table><thead><tr><th>count</th><th class="l">op</th><th class="l">result</th><th class="l">source</th><th>FLOPs</th><th>HBM</th><th>${esc(linkName(d.main.mesh.chip))} sent</th><th>time</th><th class="l">bound</th></tr></thead>
<tbody>
${opRows}
</tbody></table>
</body></html>
`;
}

/** `f()`, or undefined where the model cannot be split that way (a batch or a mesh size). */
function unlessUnsplittable<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch (e) {
    if (e instanceof ShardcostError) return undefined;
    throw e;
  }
}

export type { Mesh };
