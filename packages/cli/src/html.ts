import {
  CATALOG_SOURCES,
  formatBytes,
  formatCapacity,
  formatFlops,
  formatTime,
  linkName,
  ShardcostError,
  type StepTotals,
} from "@shardcost/core";
import { tokensPerStep } from "@shardcost/ops";
import {
  layoutPreset,
  printedRoles,
  roleNotation,
  STUDY_SHAPES,
  StepEstimator,
} from "@shardcost/serving";
import { type Mesh, mesh } from "@shardcost/sharding";
import { layoutLabel } from "./layout-file.js";
import { type Plan, type PlanQuery, plan } from "./plan.js";
import { describeModel, type Estimated, estimateModel } from "./report.js";
import { bestPreset, type SearchAnswer, whyItWins } from "./search.js";
import { meshText, resolveFor, stepQuery } from "./setup.js";
import { esc, lineChart, stackedBars } from "./svg.js";
import { markPareto } from "./sweep.js";

/** One batch size of the report's sweep: its step and what the step's time goes to. */
export interface BatchPoint {
  readonly batch: number;
  /** The headline step: collectives overlapped with kernels. */
  readonly stepS: number;
  readonly tokensPerSPerChip: number;
  readonly fits: boolean;
  /**
   * The step's time by what it goes to, adding up to `stepS`: kernels bound by weight, KV-cache
   * and activation traffic or by compute, then the collectives' time the kernels do not hide.
   */
  readonly weightS: number;
  readonly cacheS: number;
  readonly activationS: number;
  readonly computeS: number;
  readonly exposedIciS: number;
}

/** One mesh and layout of the report's 1d-ws/2d-ws crossover. */
export interface CrossoverPoint {
  readonly chips: number;
  readonly mesh: string;
  readonly layout: "1d-ws" | "2d-ws";
  readonly stepS: number;
  readonly iciS: number;
  readonly fits: boolean;
}

/** The figures behind the HTML report: a batch sweep and, for built-in models, the crossover. */
export interface ReportData {
  readonly main: Estimated;
  readonly batches: readonly BatchPoint[];
  readonly crossover: readonly CrossoverPoint[];
  /** Configurations that cannot be split on their mesh, and why (marked, not dropped). */
  readonly unsplittable: readonly string[];
  /** The deployment plan, for a built-in model. */
  readonly plan: Plan | undefined;
  /** A layout search of the same step (`report --search`). */
  readonly search?: SearchAnswer;
}

/** What the report says it assumed and how it was made. */
export interface ReportContext {
  readonly version: string;
  /** The command line, as typed. */
  readonly command: string;
}

/** The report's figures: a batch sweep, the crossover and a plan (built-in models). */
export function reportData(
  main: Estimated,
  batches: readonly number[],
  planQuery?: PlanQuery,
): ReportData {
  const unsplittable: string[] = [];
  const { model, mesh: m, layout } = main;
  const engine = new StepEstimator();
  // One batch size's step: through the sweep engine for a built-in model under a layout,
  // else traced in full (a model file's shardings, or one chip).
  const costs = (
    batch: number,
  ): { totals: StepTotals; fits: boolean; tokensPerSPerChip: number } => {
    if (model.kind === "builtin" && layout) {
      const given = typeof layout === "string" ? layout : resolveFor(model, m, layout, batch)!;
      const c = engine.step(model.config, stepQuery(model, batch), given, m);
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
    const c = unlessUnsplittable(
      () => costs(batch),
      (why) => unsplittable.push(`batch ${batch} on ${meshText(m)}: ${why}`),
    );
    if (!c) continue;
    const t = c.totals;
    points.push({
      batch,
      stepS: t.stepS,
      tokensPerSPerChip: c.tokensPerSPerChip,
      fits: c.fits,
      weightS: t.weightTrafficS,
      cacheS: t.cacheTrafficS,
      activationS: t.activationTrafficS,
      computeS: t.computeBoundS,
      exposedIciS: Math.max(0, t.iciS - t.kernelS),
    });
  }
  const crossover: CrossoverPoint[] = [];
  if (model.kind === "builtin") {
    for (const shape of STUDY_SHAPES) {
      const sm = mesh(m.chip, shape);
      for (const l of ["1d-ws", "2d-ws"] as const) {
        const c = unlessUnsplittable(
          () => engine.step(model.config, stepQuery(model), l, sm),
          (why) => unsplittable.push(`${l} on ${meshText(sm)}: ${why}`),
        );
        if (!c) continue;
        crossover.push({
          chips: sm.chips,
          mesh: meshText(sm),
          layout: l,
          stepS: c.totals.stepS,
          iciS: c.totals.iciS,
          fits: c.memory.fits,
        });
      }
    }
  }
  return {
    main,
    batches: points,
    crossover,
    unsplittable,
    plan: planQuery ? plan(planQuery) : undefined,
  };
}

/** The unit a chart's times read best in: µs, ms or s by the largest of them. */
function timeUnit(maxS: number): { readonly factor: number; readonly name: string } {
  if (maxS < 1e-3) return { factor: 1e6, name: "µs" };
  if (maxS < 1) return { factor: 1e3, name: "ms" };
  return { factor: 1, name: "s" };
}

const CSS = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1180px; color: #1d2330; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
.sub { color: #5a6375; margin-top: 0; } .notes { color: #5a6375; font-size: 12.5px; }
dl.assumptions { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; font-size: 12.5px; }
dl.assumptions dt { font-weight: 600; } dl.assumptions dd { margin: 0; }
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
export function reportHtml(d: ReportData, context: ReportContext): string {
  const r = d.main.report;
  const mem = r.memory;
  const link = linkName(d.main.mesh.chip);
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
    const u = timeUnit(Math.max(...pts.map((p) => p.stepS)));
    const frontier = pts
      .filter((_, i) => rows[i]!.pareto)
      .map((p) => [p.tokensPerSPerChip, p.stepS * u.factor] as const)
      .sort((a, b) => a[0] - b[0]);
    const fit = pts.filter((p) => p.fits);
    const over = pts.filter((p) => !p.fits);
    const latency = lineChart(
      [
        {
          name: "fits",
          color: "#2f6fdf",
          points: fit.map((p) => [p.tokensPerSPerChip, p.stepS * u.factor]),
          labels: fit.map((p) => `B=${p.batch}`),
        },
        {
          name: "does not fit (HBM)",
          color: "#c2c7d0",
          points: over.map((p) => [p.tokensPerSPerChip, p.stepS * u.factor]),
          labels: over.map((p) => `B=${p.batch} ✗`),
        },
        { name: "Pareto frontier", color: "#e07b00", points: frontier, line: true },
      ],
      {
        title: "Latency vs throughput (by batch)",
        xLabel: "tokens/s per chip",
        yLabel: `step latency (${u.name})`,
      },
    );
    const breakdown = stackedBars(
      pts.map((p) => ({
        label: `${p.batch}${p.fits ? "" : "✗"}`,
        values: [p.weightS, p.cacheS, p.activationS, p.computeS, p.exposedIciS].map(
          (v) => v * u.factor,
        ),
      })),
      [
        { name: "weight traffic", color: "#2f6fdf" },
        { name: "KV-cache traffic", color: "#7fb2ff" },
        { name: "activation traffic", color: "#9bd3ae" },
        { name: "compute", color: "#e07b00" },
        { name: `${link} not hidden`, color: "#8e44ad" },
      ],
      {
        title: "Step-time breakdown by batch (adds up to the step)",
        xLabel: "batch (✗: does not fit)",
        yLabel: `${u.name} per step`,
      },
    );
    sections.push(
      `<h2>Batch sweep on ${esc(meshText(d.main.mesh))}</h2><div class="charts">${latency}${breakdown}</div>` +
        '<p class="sub">Each kernel\'s time goes to what binds it: compute, or its HBM bytes ' +
        "(weights, KV caches, activations) in proportion; the collectives' time beyond the " +
        "kernels' is what overlap cannot hide. The bars add up to the step.</p>",
    );
  }
  if (d.crossover.length > 0) {
    const u = timeUnit(Math.max(...d.crossover.map((c) => c.stepS)));
    const uc = timeUnit(Math.max(...d.crossover.map((c) => c.iciS)));
    const by = (l: "1d-ws" | "2d-ws") => d.crossover.filter((c) => c.layout === l);
    const colors = { "1d-ws": "#2f6fdf", "2d-ws": "#e07b00" } as const;
    const series = (["1d-ws", "2d-ws"] as const).flatMap((l) => [
      {
        name: l,
        color: colors[l],
        points: by(l).map((c) => [c.chips, c.stepS * u.factor] as const),
        line: true,
      },
      {
        name: `${l}: does not fit`,
        color: "#b3261e",
        points: by(l)
          .filter((c) => !c.fits)
          .map((c) => [c.chips, c.stepS * u.factor] as const),
        labels: by(l)
          .filter((c) => !c.fits)
          .map(() => "✗"),
      },
    ]);
    const comm = (["1d-ws", "2d-ws"] as const).map((l) => ({
      name: `${l} ${link}`,
      color: colors[l],
      points: by(l).map((c) => [c.chips, c.iciS * uc.factor] as const),
      line: true,
    }));
    sections.push(
      `<h2>Layout crossover: 1d-ws vs 2d-ws</h2><div class="charts">${lineChart(series, { title: "Step time by chip count", xLabel: "chips", yLabel: `${u.name} per step`, logX: true })}${lineChart(comm, { title: "Communication per step", xLabel: "chips", yLabel: `${link} ${uc.name} per step`, logX: true })}</div>`,
    );
  }
  if (d.unsplittable.length > 0) {
    sections.push(
      `<h3>Not drawn: cannot be split that way</h3><ul class="notes">${d.unsplittable.map((n) => `<li>${esc(n)}</li>`).join("")}</ul>`,
    );
  }
  if (d.plan) sections.push(planSection(d.plan));
  if (d.search) sections.push(searchSection(d.search));
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
${card("serial (no overlap)", formatTime(r.time.serialS))}
${card("bound", r.time.bound)}
${card("tokens/s/chip", fmtRate(r.throughput.tokensPerSPerChip))}
${card("memory per chip", `${formatBytes(mem.totalBytes)} of ${formatCapacity(mem.capacityBytes)}`)}
</div>
<p>Memory: ${verdict}. Parameters ${formatBytes(mem.paramBytes)}, KV caches ${formatBytes(mem.kvCacheBytes)}, activations ${formatBytes(mem.activationBytes)} (peak live).</p>
${sections.join("\n")}
<h2>Per-op table (per chip; the same op on the same line merged)</h2>
<table><thead><tr><th>count</th><th class="l">op</th><th class="l">result</th><th class="l">source</th><th>FLOPs</th><th>HBM</th><th>${esc(link)} sent</th><th>time</th><th class="l">bound</th></tr></thead>
<tbody>
${opRows}
</tbody></table>
${assumptions(d, context)}
</body></html>
`;
}

/** What the figures assume, and how the page was made. */
function assumptions(d: ReportData, context: ReportContext): string {
  const c = d.main.mesh.chip;
  const e = d.main.report.assumptions;
  const pct = (x: number) => `${+(x * 100).toFixed(1)}%`;
  const flops = Object.entries(c.flops)
    .map(([cls, f]) => `${formatFlops(f as number)}/s ${cls}`)
    .join(", ");
  const given = d.main.layout;
  const layout = typeof given === "string" ? layoutPreset(given) : undefined;
  const items = [
    [
      "chip",
      `${c.name}: ${flops}; HBM ${formatCapacity(c.hbmBytes)} at ${formatBytes(c.hbmBandwidth)}/s; ` +
        `${linkName(c)} ${formatBytes(c.linkBandwidth)}/s a link one way, ${formatTime(c.hopLatency)} a hop` +
        (c.pricePerHour === undefined ? "" : `; US$${c.pricePerHour} a chip-hour`),
    ],
    ["chip figures from", CATALOG_SOURCES],
    [
      "efficiencies",
      `a roofline at ${pct(e.mfu)} of peak FLOP/s, ${pct(e.hbm)} of HBM and ${pct(e.ici)} of link bandwidth`,
    ],
    [
      "step",
      "collectives overlapped with kernels (the headline); serial runs every op one after another",
    ],
    ...(layout
      ? [["layout", `${given}: ${layout.description} (${layout.source})`]]
      : given
        ? [["layout", `${layoutLabel(given)}: a layout found by shardcost search, from that file`]]
        : [["layout", "the model file's own shardings"]]),
    ...(d.main.report.layout
      ? [["layout, as resolved", d.main.report.layout.resolved.join("; ")]]
      : []),
    ["shardcost", context.version],
    ["command", context.command],
  ];
  return `<h2>Assumptions</h2>
<dl class="assumptions" id="assumptions">${items.map(([k, v]) => `<dt>${esc(k!)}</dt><dd>${esc(v!)}</dd>`).join("")}</dl>`;
}

/** The deployment plan: every slice, the smallest that fits, and a request on it. */
function planSection(p: Plan): string {
  const ms = (s: number | null) => (s === null ? "" : formatTime(s));
  const rows = p.rows
    .map((r) =>
      r.stepS === null
        ? `<tr><td class="l">${esc(r.mesh)}</td><td>${r.chips}</td><td class="l">${r.fits ? "yes" : '<span class="bad">no</span>'}</td><td class="l" colspan="6">${esc(r.note ?? "")}</td></tr>`
        : `<tr><td class="l">${esc(r.mesh)}</td><td>${r.chips}</td><td class="l">yes</td><td>${r.batch}</td><td>${ms(r.stepS)}</td><td>${ms(r.serialS)}</td><td>${fmtRate(r.tokensPerSPerChip!)}</td><td>${r.dollarsPerMTokens === null ? "—" : `$${r.dollarsPerMTokens.toFixed(2)}`}</td><td class="l">${esc(r.bound ?? "")}</td></tr>`,
    )
    .join("\n");
  const q = p.request;
  const summary = [
    `Smallest slice that fits: <b>${esc(p.smallest ?? "none of these")}</b>.`,
    `Critical batch: ${p.criticalBatch}.`,
    ...(q
      ? [
          `On ${esc(q.mesh)} at batch ${q.batch}: time to first token ${formatTime(q.timeToFirstTokenS)}, ` +
            `a decode step ${formatTime(q.decodeStepS)}, the whole request ${formatTime(q.requestS)}; ` +
            `prefill:decode chips ${q.prefillToDecode.toFixed(2)}.`,
        ]
      : []),
  ].join(" ");
  return `<h2>Plan: ${esc(p.model)} on ${esc(p.chip)} (${esc(p.layout)}, KV cache ${p.context})</h2>
<p>${summary}</p>
<table class="plan"><thead><tr><th class="l">slice</th><th>chips</th><th class="l">fits</th><th>batch</th><th>step</th><th>serial</th><th>tokens/s/chip</th><th>$/M tokens</th><th class="l">bound</th></tr></thead>
<tbody>
${rows}
</tbody></table>`;
}

/** The layout search: the layout found per role, against every named one, and why it wins. */
function searchSection(a: SearchAnswer): string {
  const res = a.chosen?.result;
  const best = res?.best;
  if (!res || !best) return "<h2>Layout search</h2><p>No layout could be costed.</p>";
  const roles = printedRoles(a.request.config)
    .map((r) => {
      const stored = roleNotation(best.layout, r);
      const use = r === "kvCache" ? undefined : best.layout.use?.[r];
      const used = use ? roleNotation({ ...best.layout, [r]: use }, r) : stored;
      const gathered = used === stored ? "" : ` gathered to <code>${esc(used)}</code> before use`;
      return `<li><code>${esc(stored)}</code>${gathered}</li>`;
    })
    .join("");
  const rows = [best, ...res.presets.map((p) => p.candidate ?? p)]
    .map((row) => {
      if (!("costs" in row)) {
        return `<tr><td class="l">${esc(row.name)}</td><td colspan="5" class="l">${esc(row.error ?? "")}</td></tr>`;
      }
      const t = row.costs.totals;
      const name =
        row === best ? (row.preset ? `${row.preset} (best)` : "found") : (row.preset ?? "");
      const vs =
        row === best ? "" : `+${((t.stepS / best.costs.totals.stepS - 1) * 100).toFixed(1)}%`;
      const fits = row.costs.memory.fits ? "yes" : '<span class="bad">no</span>';
      return `<tr><td class="l">${esc(name)}</td><td>${formatTime(t.stepS)}</td><td>${vs}</td><td class="l">${fits}</td><td>${formatBytes(row.costs.memory.paramBytes)}</td><td>${formatBytes(t.iciBytes)}</td></tr>`;
    })
    .join("\n");
  const against = bestPreset(res);
  let why = "";
  if (against && !best.preset) {
    const w = whyItWins(best, against);
    const u = timeUnit(Math.max(best.costs.totals.stepS, against.costs.totals.stepS));
    why =
      `<p>Why it wins against ${esc(against.preset ?? "")}: ${w.largestCut ? `it cuts ${esc(w.largestCut)} the most` : "no part of the step is cut"}.</p>` +
      stackedBars(
        [
          { label: "found", values: w.parts.map((p) => p.found * u.factor) },
          { label: against.preset ?? "", values: w.parts.map((p) => p.preset * u.factor) },
        ],
        [
          { name: "compute", color: "#e07b00" },
          { name: "weight traffic", color: "#2f6fdf" },
          { name: "KV-cache traffic", color: "#7fb2ff" },
          { name: "activation traffic", color: "#9bd3ae" },
          { name: "collectives not hidden", color: "#8e44ad" },
        ],
        {
          title: "Step-time breakdown: found vs the best named layout",
          xLabel: "layout",
          yLabel: `${u.name} per step`,
        },
      );
  }
  return `<h2>Layout search (batch ${a.chosen!.batch})</h2>
<p>Costed ${res.evaluated} distinct layouts of a space of ${res.spaceSize} points in ${res.seconds.toFixed(1)} s (${res.method === "exhaustive" ? "every distinct layout" : "beam search"}); space ${res.exhausted ? "exhausted" : "not exhausted"}${res.stoppedByBudget ? ", stopped by the budget" : ""}. ${best.preset ? `No layout beats ${esc(best.preset)} here.` : "The best layout, per role:"}</p>
<ul class="roles">${roles}</ul>
<table class="search"><thead><tr><th class="l">layout</th><th>step</th><th>vs best</th><th class="l">fits</th><th>params</th><th>ICI sent</th></tr></thead>
<tbody>
${rows}
</tbody></table>
${why}`;
}

/** `f()`, or undefined where the model cannot be split that way (a batch or a mesh size). */
function unlessUnsplittable<T>(f: () => T, why: (message: string) => void): T | undefined {
  try {
    return f();
  } catch (e) {
    if (e instanceof ShardcostError) {
      why(e.message.split("\n")[0]!);
      return undefined;
    }
    throw e;
  }
}

export type { Mesh };
