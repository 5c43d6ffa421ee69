import { readFileSync } from "node:fs";
import {
  formatBytes,
  formatLocation,
  formatTime,
  groupEstimate,
  groupKey,
  ShardcostError,
  type StepTotals,
  type TensorSpec,
  table,
  tensor,
} from "@shardcost/core";
import { type LlamaConfig, tokensPerStep } from "@shardcost/ops";
import {
  type Candidate,
  compareCandidates,
  compileStep,
  paretoFrontier,
  printedRoles,
  type ResolvedLayout,
  type RoleCandidate,
  type RoleModel,
  type RoleSearchResult,
  roleNotation,
  type SearchResult,
  type SearchStep,
  type StepQuery,
  searchLayouts,
  workerEvaluator,
} from "@shardcost/serving";
import { compile, type Mesh } from "@shardcost/sharding";
import { LAYOUT_FILE_FORMAT } from "./layout-file.js";

/** What the search optimises: the step, throughput under a latency bound, or the frontier. */
export type Objective = "step" | "throughput" | "pareto";
export const OBJECTIVES: readonly Objective[] = ["step", "throughput", "pareto"];

/** A search as the CLI runs it. */
export interface SearchRequest {
  readonly config: LlamaConfig;
  readonly modelName: string;
  readonly query: StepQuery;
  readonly mesh: Mesh;
  readonly meshText: string;
  readonly objective: Objective;
  /** The batches tried by the throughput and Pareto objectives (the step objective: one). */
  readonly batches: readonly number[];
  readonly latencyS?: number;
  readonly budgetS: number;
  readonly workers: number;
  /** One part of a search split across machines (`--part K/N`), 0-based. */
  readonly part?: { readonly index: number; readonly of: number };
}

/** One batch's search, with what a reader needs beside the numbers. */
export interface BatchSearch {
  readonly batch: number;
  readonly result: SearchResult;
}

/** The search's answer for the CLI: one or several batches, and the chosen one. */
export interface SearchAnswer {
  readonly request: SearchRequest;
  readonly runs: readonly BatchSearch[];
  /** The run the answer is about (the step objective's only batch; the best throughput). */
  readonly chosen: BatchSearch | undefined;
  /** Pareto objective: (batch, step, tokens/s per chip) of each batch's best, on the frontier. */
  readonly frontier: readonly { batch: number; stepS: number; tokensPerSPerChip: number }[];
  readonly seconds: number;
}

const tokensPerSPerChip = (r: SearchRequest, batch: number, stepS: number) =>
  tokensPerStep(r.query.phase, batch, r.query.seq ?? 2048) / stepS / r.mesh.chips;

/** Runs the search for every batch the objective needs, the budget shared between them. */
export async function runSearch(r: SearchRequest): Promise<SearchAnswer> {
  const started = performance.now();
  const runs: BatchSearch[] = [];
  const pool = workerEvaluator(r.config, r.mesh, r.workers);
  try {
    for (const [i, batch] of r.batches.entries()) {
      const query = { ...r.query, batch };
      const spent = (performance.now() - started) / 1000;
      const seconds = (r.budgetS - spent) / (r.batches.length - i);
      const result = await searchLayouts(r.config, query, r.mesh, {
        evaluate: pool.evaluator(query),
        ...(r.part ? { part: r.part } : {}),
        budget: { seconds: Math.max(0, seconds) },
        ...(r.latencyS !== undefined ? { maxStepS: r.latencyS } : {}),
      });
      runs.push({ batch, result });
    }
  } finally {
    await pool.close();
  }
  const usable = (b: BatchSearch) =>
    b.result.best?.costs.memory.fits &&
    (r.latencyS === undefined || b.result.best.costs.totals.stepS <= r.latencyS);
  let chosen: BatchSearch | undefined;
  if (r.objective === "step") chosen = runs[0];
  else {
    const rate = (b: BatchSearch) =>
      tokensPerSPerChip(r, b.batch, b.result.best!.costs.totals.stepS);
    chosen = runs.filter(usable).sort((a, b) => rate(b) - rate(a) || a.batch - b.batch)[0];
  }
  const points = runs
    .filter((b) => b.result.best?.costs.memory.fits)
    .map((b) => ({
      batch: b.batch,
      stepS: b.result.best!.costs.totals.stepS,
      tokensPerSPerChip: tokensPerSPerChip(r, b.batch, b.result.best!.costs.totals.stepS),
    }));
  const on = paretoFrontier(
    points.map((p) => ({ latencyS: p.stepS, throughput: p.tokensPerSPerChip, fits: true })),
  );
  const frontier = r.objective === "pareto" ? points.filter((_p, i) => on.has(i)) : [];
  return { request: r, runs, chosen, frontier, seconds: (performance.now() - started) / 1000 };
}

/** The parts a step's time goes to, as the report's breakdown draws them. */
export function stepParts(t: StepTotals): Record<string, number> {
  return {
    compute: t.computeBoundS,
    "weight traffic": t.weightTrafficS,
    "KV-cache traffic": t.cacheTrafficS,
    "activation traffic": t.activationTrafficS,
    "collectives not hidden": Math.max(0, t.stepS - t.kernelS),
  };
}

/** The best named layout of a search (fitting first, then the fastest). */
export function bestPreset(result: SearchResult): Candidate | undefined {
  const costed = result.presets
    .map((p) => p.candidate)
    .filter((c): c is Candidate => c !== undefined);
  return costed.sort(compareCandidates())[0];
}

/** Why the best layout beats the best named one: each part of the step, and the largest cut. */
export function whyItWins(best: Candidate, against: Candidate) {
  return stepPartsDiff(best.costs.totals, against.costs.totals);
}

/** One layer's collectives under a layout: the three-layer model's less the two-layer one's. */
export function layerCollectives(
  config: LlamaConfig,
  query: StepQuery,
  layout: ResolvedLayout,
  m: Mesh,
) {
  const grouped = (layers: number) =>
    groupEstimate(compileStep({ ...config, layers }, query, layout, m).compiled.estimate);
  const two = new Map(grouped(2).groups.map((g) => [groupKey(g.first), g]));
  const rows: {
    kind: string;
    axes: string;
    type: string;
    count: number;
    bytes: number;
    timeS: number;
    source: string;
  }[] = [];
  for (const g of grouped(3).groups) {
    const c = g.first.collective;
    if (!c) continue;
    const before = two.get(groupKey(g.first));
    const count = g.count - (before?.count ?? 0);
    if (count <= 0) continue;
    rows.push({
      kind: c.kind,
      axes: c.axes,
      type: g.first.resultType,
      count,
      bytes: g.iciBytes - (before?.iciBytes ?? 0),
      timeS: g.iciS - (before?.iciS ?? 0),
      source: formatLocation(g.first.source?.location),
    });
  }
  return rows;
}

const ms = (s: number) => formatTime(s);

function candidateName(c: Candidate, best: Candidate | undefined): string {
  if (c.preset) return c.preset;
  return c === best ? "found" : "found (runner-up)";
}

/** The search's answer as text: the layout per role, beside every named one, and why. */
export function formatSearch(a: SearchAnswer): string {
  const r = a.request;
  const lines: string[] = [];
  const what =
    r.objective === "step"
      ? `the overlapped step, among layouts that fit in HBM${r.latencyS !== undefined ? ` (ranked first if at most ${ms(r.latencyS)})` : ""}`
      : r.objective === "throughput"
        ? `tokens/s per chip${r.latencyS !== undefined ? ` with a step of at most ${ms(r.latencyS)}` : ""}, over batches ${r.batches.join(", ")}`
        : `the latency–throughput frontier over batches ${r.batches.join(", ")}`;
  lines.push(
    `Layout search: ${r.modelName}, ${r.query.phase}, ${r.query.phase === "prefill" ? "prompt" : "KV cache"} ${r.query.seq} on ${r.meshText} (${r.mesh.chips} chips)`,
    `objective: ${what}`,
  );
  if (r.objective === "pareto") {
    lines.push(
      "",
      "Frontier (each batch's best layout):",
      table(
        ["batch", "step", "tokens/s/chip", "layout"],
        a.frontier.map((p) => {
          const run = a.runs.find((x) => x.batch === p.batch)!;
          return [
            String(p.batch),
            ms(p.stepS),
            p.tokensPerSPerChip.toFixed(1),
            run.result.best ? candidateName(run.result.best, run.result.best) : "",
          ];
        }),
        ["right", "right", "right", "left"],
      ),
    );
  }
  const chosen = a.chosen;
  if (!chosen?.result.best) {
    lines.push(
      "",
      r.latencyS !== undefined
        ? `No batch of ${r.batches.join(", ")} meets a step of ${ms(r.latencyS)} in HBM.`
        : "No layout could be costed.",
    );
    return lines.join("\n");
  }
  const res = chosen.result;
  const best = res.best!;
  lines.push(
    `batch ${chosen.batch}: costed ${res.evaluated.toLocaleString("en-US")} distinct layouts of a space of ` +
      `${res.spaceSize.toLocaleString("en-US")} points in ${res.seconds.toFixed(1)} s ` +
      `(${res.method === "exhaustive" ? "every distinct layout" : "beam search"}, ${r.workers} thread${r.workers === 1 ? "" : "s"}); ` +
      `space ${res.exhausted ? "exhausted" : "not exhausted"}${res.stoppedByBudget ? " — stopped by the budget: the best found so far" : ""}` +
      (res.rejected > 0 ? `; ${res.rejected} could not be lowered` : ""),
    "",
    best.preset
      ? `Best: ${best.preset} — no layout of the space beats the named one here.`
      : "Best: a layout found by the search.",
  );
  for (const role of printedRoles(r.config)) {
    const use = role === "kvCache" ? undefined : best.layout.use?.[role];
    const used = use ? roleNotation({ ...best.layout, [role]: use }, role) : undefined;
    const stored = roleNotation(best.layout, role);
    lines.push(`  ${stored}${used && used !== stored ? `, gathered to ${used} before use` : ""}`);
  }
  lines.push("  choices:", ...best.layout.choices.map((c) => `    ${c}`));
  const rows = [best, ...res.presets.map((p) => p.candidate ?? p)];
  lines.push(
    "",
    "Against the named layouts (per chip):",
    table(
      ["layout", "step", "vs best", "fits", "params", "KV cache", "ICI sent", "bound"],
      rows.map((row) => {
        if (!("costs" in row)) return [row.name, "—", "", "", "", "", "", row.error ?? ""];
        const t = row.costs.totals;
        const mem = row.costs.memory;
        return [
          row === best ? candidateName(row, best) : (row.preset ?? ""),
          ms(t.stepS),
          row === best ? "" : `+${((t.stepS / best.costs.totals.stepS - 1) * 100).toFixed(1)}%`,
          mem.fits ? "yes" : `no (${formatBytes(mem.totalBytes)})`,
          formatBytes(mem.paramBytes),
          formatBytes(mem.cacheBytes),
          formatBytes(t.iciBytes),
          t.bound,
        ];
      }),
      ["left", "right", "right", "left", "right", "right", "right", "left"],
    ),
  );
  const against = bestPreset(res);
  if (against && !best.preset) {
    const why = whyItWins(best, against);
    lines.push(
      "",
      `Why it wins (against ${against.preset}, ${ms(against.costs.totals.stepS)}): ` +
        (why.largestCut ? `it cuts ${why.largestCut} the most.` : "no part of the step is cut."),
      table(
        ["part of the step", "found", against.preset ?? "", "change"],
        why.parts.map((p) => [
          p.part,
          ms(p.found),
          ms(p.preset),
          Math.abs(p.change) < 1e-12 ? "0" : `${p.change < 0 ? "−" : "+"}${ms(Math.abs(p.change))}`,
        ]),
        ["left", "right", "right", "right"],
      ),
    );
  }
  if (r.config.layers >= 3) {
    const rows = layerCollectives(
      r.config,
      { ...r.query, batch: chosen.batch },
      best.layout,
      r.mesh,
    );
    lines.push(
      "",
      `Collectives per layer (${rows.reduce((n, x) => n + x.count, 0)}; a middle layer, as explain prints them):`,
      rows.length === 0
        ? "  none"
        : table(
            ["kind", "axes", "result", "count", "sent per chip", "time", "source"],
            rows.map((x) => [
              x.kind,
              x.axes,
              x.type,
              String(x.count),
              formatBytes(x.bytes),
              ms(x.timeS),
              x.source,
            ]),
            ["left", "left", "left", "right", "right", "right", "left"],
          ),
    );
  }
  return lines.join("\n");
}

/** The search's answer as JSON (`--json`): every run, the chosen layout per role and why. */
export function searchJson(a: SearchAnswer) {
  const r = a.request;
  const cand = (c: Candidate | undefined) =>
    c && {
      preset: c.preset ?? null,
      point: c.point ?? null,
      roles: Object.fromEntries(printedRoles(r.config).map((x) => [x, roleNotation(c.layout, x)])),
      choices: c.layout.choices,
      stepS: c.costs.totals.stepS,
      serialS: c.costs.totals.serialS,
      fits: c.costs.memory.fits,
      memory: c.costs.memory,
      parts: stepParts(c.costs.totals),
      iciBytes: c.costs.totals.iciBytes,
      bound: c.costs.totals.bound,
    };
  return {
    model: r.modelName,
    mesh: r.meshText,
    chips: r.mesh.chips,
    phase: r.query.phase,
    seq: r.query.seq ?? 2048,
    objective: r.objective,
    latencyS: r.latencyS ?? null,
    budgetS: r.budgetS,
    workers: r.workers,
    part: r.part ? { k: r.part.index + 1, of: r.part.of } : null,
    seconds: a.seconds,
    chosenBatch: a.chosen?.batch ?? null,
    frontier: a.frontier,
    runs: a.runs.map(({ batch, result: s }) => {
      const against = bestPreset(s);
      return {
        batch,
        best: cand(s.best) ?? null,
        why: s.best && against && !s.best.preset ? whyItWins(s.best, against) : null,
        presets: s.presets.map((p) => ({
          name: p.name,
          ...(p.candidate ? cand(p.candidate) : { error: p.error }),
        })),
        evaluated: s.evaluated,
        rejected: s.rejected,
        spaceSize: s.spaceSize,
        method: s.method,
        exhausted: s.exhausted,
        stoppedByBudget: s.stoppedByBudget,
        seconds: s.seconds,
      };
    }),
  };
}

/** The step the chosen run was found for (for the layout file). */
export function chosenStep(a: SearchAnswer): SearchStep {
  if (!a.chosen) throw new ShardcostError("input", "no layout was found to save");
  return { phase: a.request.query.phase, batch: a.chosen.batch, seq: a.request.query.seq ?? 2048 };
}

/** A model file's role search as text: each role's sharding, against the file's own, and why. */
export function formatRoleSearch(
  file: string,
  meshLabel: string,
  m: Mesh,
  model: RoleModel,
  roles: readonly string[],
  res: RoleSearchResult,
): string {
  const lines = [
    `Role search: ${file} on ${meshLabel} (${m.chips} chips), roles ${roles.join(", ")}`,
    "objective: the overlapped step, among shardings that fit in HBM",
    `costed ${res.evaluated.toLocaleString("en-US")} assignments (the file's own and a space of ` +
      `${res.spaceSize.toLocaleString("en-US")}) in ` +
      `${res.seconds.toFixed(1)} s (${res.method === "exhaustive" ? "every assignment" : "beam search"}); ` +
      `space ${res.exhausted ? "exhausted" : "not exhausted"}${res.stoppedByBudget ? " — stopped by the budget: the best found so far" : ""}` +
      (res.rejected > 0 ? `; ${res.rejected} could not be lowered` : ""),
    "",
  ];
  const best = res.best;
  if (!best) return [...lines, "No assignment could be lowered on this mesh."].join("\n");
  lines.push(
    best.asWritten
      ? "Best: the file's own shardings — no assignment of the roles beats them here."
      : "Best: shardings found by the search.",
  );
  for (const r of roles) {
    const was = res.asWritten?.roles[r];
    lines.push(
      `  ${r}: ${best.roles[r]}${was && was !== best.roles[r] ? `   (the file: ${was})` : ""}`,
    );
  }
  const row = (name: string, c: RoleCandidate) => [
    name,
    ms(c.totals.stepS),
    c === best ? "" : `+${((c.totals.stepS / best.totals.stepS - 1) * 100).toFixed(1)}%`,
    c.memory.fits ? "yes" : `no (${formatBytes(c.memory.totalBytes)})`,
    formatBytes(c.memory.paramBytes),
    formatBytes(c.totals.iciBytes),
    c.totals.bound,
  ];
  lines.push(
    "",
    table(
      ["shardings", "step", "vs best", "fits", "params", "ICI sent", "bound"],
      [
        row(best.asWritten ? "the file's (best)" : "found", best),
        ...(res.asWritten && !best.asWritten ? [row("the file's", res.asWritten)] : []),
      ],
      ["left", "right", "right", "left", "right", "right", "left"],
    ),
  );
  if (res.asWritten && !best.asWritten) {
    const parts = stepPartsDiff(best.totals, res.asWritten.totals);
    lines.push(
      "",
      `Why it wins: ${parts.largestCut ? `it cuts ${parts.largestCut} the most.` : "no part of the step is cut."}`,
      table(
        ["part of the step", "found", "the file's", "change"],
        parts.parts.map((p) => [p.part, ms(p.found), ms(p.preset), signed(p.change)]),
        ["left", "right", "right", "right"],
      ),
    );
  }
  const inputs: Record<string, unknown> = { ...model.inputs };
  for (const r of roles) {
    const s = model.inputs[r] as TensorSpec;
    inputs[r] = tensor(best.roles[r]!, s.dtype, s.role);
  }
  const est = groupEstimate(compile({ ...model, inputs }, { mesh: m }).estimate);
  const collectives = est.groups.filter((g) => g.first.collective);
  lines.push(
    "",
    `Collectives (${collectives.reduce((n, g) => n + g.count, 0)}):`,
    collectives.length === 0
      ? "  none"
      : table(
          ["kind", "axes", "result", "count", "sent per chip", "time", "source"],
          collectives.map((g) => [
            g.first.collective!.kind,
            g.first.collective!.axes,
            g.first.resultType,
            String(g.count),
            formatBytes(g.iciBytes),
            ms(g.iciS),
            formatLocation(g.first.source?.location),
          ]),
          ["left", "left", "left", "right", "right", "right", "left"],
        ),
  );
  return lines.join("\n");
}

const signed = (change: number) =>
  Math.abs(change) < 1e-12 ? "0" : `${change < 0 ? "−" : "+"}${ms(Math.abs(change))}`;

function stepPartsDiff(found: StepTotals, against: StepTotals) {
  const a = stepParts(found);
  const b = stepParts(against);
  const parts = Object.keys(a).map((part) => ({
    part,
    found: a[part]!,
    preset: b[part]!,
    change: a[part]! - b[part]!,
  }));
  const cut = [...parts].sort((x, y) => x.change - y.change)[0]!;
  return { parts, largestCut: cut.change < 0 ? cut.part : undefined };
}

/** A model file's role search as JSON. */
export function roleSearchJson(file: string, meshLabel: string, res: RoleSearchResult) {
  const cand = (c: RoleCandidate | undefined) =>
    c && {
      roles: c.roles,
      asWritten: c.asWritten,
      stepS: c.totals.stepS,
      serialS: c.totals.serialS,
      fits: c.memory.fits,
      memory: c.memory,
      parts: stepParts(c.totals),
      iciBytes: c.totals.iciBytes,
      bound: c.totals.bound,
    };
  return {
    model: file,
    mesh: meshLabel,
    best: cand(res.best) ?? null,
    asWritten: cand(res.asWritten) ?? null,
    why:
      res.best && res.asWritten && !res.best.asWritten
        ? stepPartsDiff(res.best.totals, res.asWritten.totals)
        : null,
    evaluated: res.evaluated,
    rejected: res.rejected,
    spaceSize: res.spaceSize,
    method: res.method,
    exhausted: res.exhausted,
    stoppedByBudget: res.stoppedByBudget,
    seconds: res.seconds,
  };
}

/** The JSON `search --json` prints, as `search --merge` reads it back. */
export type SearchJson = ReturnType<typeof searchJson>;
type RunJson = SearchJson["runs"][number];

const mergeError = (why: string): never => {
  throw new ShardcostError(
    "input",
    `search --merge: ${why} (merge the --json outputs of one search split with --part K/N)`,
  );
};

/**
 * The parts of a split search (`--part K/N`, each `--json`) as one answer: per batch the best of
 * the parts (fitting first, then within the latency bound, then the step), the layouts costed
 * summed, the space exhausted only when every part is present and exhausted its share.
 */
export function mergeSearches(files: readonly string[]) {
  const parts: SearchJson[] = files.map((f) => {
    let text: string;
    try {
      text = readFileSync(f, "utf8");
    } catch (e) {
      return mergeError(`cannot read ${f}: ${(e as NodeJS.ErrnoException).code ?? e}`);
    }
    try {
      const j = JSON.parse(text) as SearchJson;
      if (!Array.isArray(j.runs)) mergeError(`${f} is not the output of search --json`);
      return j;
    } catch (e) {
      if (e instanceof ShardcostError) throw e;
      return mergeError(`${f} is not valid JSON`);
    }
  });
  const first = parts[0] ?? mergeError("no files given");
  for (const [i, p] of parts.entries()) {
    for (const field of [
      "model",
      "mesh",
      "phase",
      "seq",
      "objective",
      "latencyS",
      "chips",
    ] as const) {
      if (JSON.stringify(p[field]) !== JSON.stringify(first[field])) {
        mergeError(
          `${files[i]} searched ${field} ${JSON.stringify(p[field])}, ${files[0]} ${JSON.stringify(first[field])}`,
        );
      }
    }
  }
  const of = first.part?.of ?? 1;
  const present = new Set(parts.map((p) => p.part?.k ?? 1));
  const complete = parts.every((p) => (p.part?.of ?? 1) === of) && present.size === of;
  const bound = first.latencyS ?? Number.POSITIVE_INFINITY;
  const rank = (r: RunJson) => {
    const b = r.best;
    return b ? (b.fits ? 0 : 2) + (b.stepS <= bound ? 0 : 1) : 4;
  };
  const batches = [...new Set(parts.flatMap((p) => p.runs.map((r) => r.batch)))].sort(
    (a, b) => a - b,
  );
  const runs = batches.map((batch) => {
    const all = parts.flatMap((p) => p.runs.filter((r) => r.batch === batch));
    const best = [...all].sort(
      (a, b) => rank(a) - rank(b) || (a.best?.stepS ?? 0) - (b.best?.stepS ?? 0),
    )[0]!;
    return {
      ...best,
      evaluated: all.reduce((n, r) => n + r.evaluated, 0),
      rejected: all.reduce((n, r) => n + r.rejected, 0),
      exhausted: complete && all.every((r) => r.exhausted),
      stoppedByBudget: all.some((r) => r.stoppedByBudget),
    };
  });
  const perChip = (r: RunJson) =>
    (r.batch * (first.phase === "prefill" ? (first.seq ?? 1) : 1)) / r.best!.stepS / first.chips;
  const usable = runs.filter((r) => rank(r) === 0);
  const chosen =
    first.objective === "step"
      ? runs[0]
      : [...usable].sort((a, b) => perChip(b) - perChip(a) || a.batch - b.batch)[0];
  return {
    ...first,
    part: null,
    merged: { files: [...files], parts: of, complete },
    seconds: Math.max(...parts.map((p) => p.seconds)),
    chosenBatch: chosen?.batch ?? null,
    runs,
  };
}

/** The merged answer: per batch, the best layout and where the parts left the space. */
export function formatMerged(m: ReturnType<typeof mergeSearches>): string {
  const lines = [
    `Layout search merged from ${m.merged.files.length} of ${m.merged.parts} parts` +
      `${m.merged.complete ? "" : " (some parts missing: the space is not covered)"}: ` +
      `${m.model}, ${m.phase}, ${m.seq} on ${m.mesh}`,
    "",
    table(
      ["batch", "best", "step", "fits", "costed", "exhausted"],
      m.runs.map((r) => [
        String(r.batch),
        r.best ? (r.best.preset ?? "found") : "—",
        r.best ? ms(r.best.stepS) : "",
        r.best?.fits ? "yes" : "no",
        String(r.evaluated),
        r.exhausted ? "yes" : "no",
      ]),
      ["right", "left", "right", "left", "right", "left"],
    ),
  ];
  const chosen = m.runs.find((r) => r.batch === m.chosenBatch);
  if (chosen?.best) {
    lines.push("", `Best at batch ${chosen.batch}:`);
    for (const v of Object.values(chosen.best.roles)) lines.push(`  ${v}`);
  }
  return lines.join("\n");
}

/** A layout file from a merged answer's best (as `--save` writes from one search). */
export function mergedLayoutFile(
  m: ReturnType<typeof mergeSearches>,
  best: NonNullable<RunJson["best"]>,
): string {
  return `${JSON.stringify(
    {
      format: LAYOUT_FILE_FORMAT,
      foundFor: {
        model: m.model,
        mesh: m.mesh,
        step: { phase: m.phase, batch: m.chosenBatch, seq: m.seq },
      },
      point: best.point,
      roles: best.roles,
      choices: best.choices,
    },
    null,
    2,
  )}\n`;
}
