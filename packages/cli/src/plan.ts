import { CHIPS, type Chip, derate, type Efficiency, ShardcostError } from "@shardcost/core";
import type { LlamaConfig } from "@shardcost/ops";
import {
  criticalBatch,
  type LayoutName,
  prefillToDecodeRatio,
  type StepCosts,
  StepEstimator,
  type StepQuery,
} from "@shardcost/serving";
import { type Mesh, mesh } from "@shardcost/sharding";
import { assumptionLine, chipKey, meshText } from "./setup.js";

/** What `shardcost plan` is asked. */
export interface PlanQuery {
  readonly config: LlamaConfig;
  /** Fractions of peak every step is costed at. */
  readonly efficiency: Efficiency;
  readonly modelFlag: string;
  readonly chip: string;
  readonly layout: LayoutName;
  /** KV length the decode batch is sized for. */
  readonly context: number;
  readonly prompt: number;
  readonly output: number;
  readonly weights: StepQuery["weights"];
  readonly kv: StepQuery["kv"];
  readonly compute: StepQuery["compute"];
  readonly attention: StepQuery["attention"];
  /** A fixed batch (default: the largest that fits, within the latency bound if given). */
  readonly batch?: number;
  readonly latencyS?: number;
  /** Instead of a latency bound: the smallest batch giving at least this many tokens/s per chip. */
  readonly minTokensPerSPerChip?: number;
}

/** One candidate slice. */
export interface PlanRow {
  readonly mesh: string;
  readonly chips: number;
  /** Whether batch 1 fits at the context length (the weights, one cache, activations). */
  readonly fits: boolean;
  /** Memory per chip at batch 1, and the chip's capacity. */
  readonly memoryBytes: number;
  readonly capacityBytes: number;
  /** The batch costed: the flag's, or the largest that fits (within the latency bound). */
  readonly batch: number | null;
  /** Step times at that batch: overlapped (the headline) and serial (no overlap). */
  readonly stepS: number | null;
  readonly serialS: number | null;
  readonly tokensPerS: number | null;
  readonly tokensPerSPerChip: number | null;
  /** US$ per million output tokens at the catalog's on-demand chip-hour price, if it has one. */
  readonly dollarsPerMTokens: number | null;
  readonly bound: string | null;
  /** Why the row has no figures (does not fit, or the batch does not fit). */
  readonly note: string | null;
  /** The `shardcost estimate` that gives this row's step. */
  readonly command: string | null;
}

export interface Plan {
  readonly model: string;
  readonly efficiency: Efficiency;
  readonly chip: string;
  readonly layout: LayoutName;
  readonly context: number;
  readonly rows: readonly PlanRow[];
  /** The smallest slice that holds the model at this context, and its figures. */
  readonly smallest: string | null;
  readonly criticalBatch: number;
  /** On the smallest slice: prefill of one prompt, one whole request, the P:D chip ratio. */
  readonly request: {
    readonly mesh: string;
    readonly batch: number;
    readonly timeToFirstTokenS: number;
    readonly decodeStepS: number;
    readonly requestS: number;
    readonly prefillToDecode: number;
    readonly commands: readonly string[];
  } | null;
}

/** Slices plan considers, smallest first: the chip's topology from one chip to a pod. */
export function candidateSlices(c: Chip): Record<string, number>[] {
  const t = c.topology;
  if (t.kind === "torus" && t.rank === 2) {
    return [[1], [2, 2], [2, 4], [4, 4], [4, 8], [8, 8], [8, 16], [16, 16]].map(axes);
  }
  if (t.kind === "torus") {
    return [[1], [2, 2], [2, 2, 2], [2, 2, 4], [4, 4, 4], [4, 4, 8], [4, 8, 8], [8, 8, 8]].map(
      axes,
    );
  }
  if (t.kind === "nvlink") {
    // GPUs in one node, then whole nodes (X nodes × Y GPUs).
    return [[1], [2], [4], [8], [2, 8], [4, 8], [8, 8]].map(axes);
  }
  return [[1], [2], [4], [8]].map(axes);
}

const axes = (sizes: readonly number[]) =>
  Object.fromEntries(sizes.map((n, i) => [["X", "Y", "Z"][i]!, n]));

/**
 * The plan: every candidate slice with its memory verdict, batch, step and throughput; the
 * smallest that fits; on it, time to first token, a whole request and the prefill:decode ratio.
 * Each figure is the sharded estimate `shardcost estimate` gives (the named layout, lowered).
 */
export function plan(q: PlanQuery): Plan {
  const engine = new StepEstimator();
  const chip: Chip = derate(CHIPS[q.chip as keyof typeof CHIPS], q.efficiency);
  const price = (chip as { pricePerHour?: number }).pricePerHour;
  const decode = (batch: number, seq: number): StepQuery => ({
    phase: "decode",
    batch,
    seq,
    weights: q.weights,
    kv: q.kv,
    compute: q.compute,
    attention: q.attention,
  });
  const step = (m: Mesh, query: StepQuery): StepCosts | undefined => {
    try {
      return engine.step(q.config, query, q.layout, m);
    } catch (e) {
      if (e instanceof ShardcostError) return undefined;
      throw e;
    }
  };
  const command = (m: Mesh, batch: number, seq: number, phase = "decode") =>
    `shardcost estimate --model ${q.modelFlag} --mesh ${meshText(m)} --layout ${q.layout} ` +
    `--phase ${phase} --batch ${batch} --seq ${seq} --weights ${q.weights} --kv ${q.kv}` +
    (q.compute && q.compute !== "bf16" ? ` --compute ${q.compute}` : "");

  const rows: PlanRow[] = [];
  const meshes: Mesh[] = [];
  for (const shape of candidateSlices(chip)) {
    const m = mesh(chip, shape);
    meshes.push(m);
    const one = step(m, decode(1, q.context));
    const base = {
      mesh: meshText(m),
      chips: m.chips,
      memoryBytes: one?.memory.totalBytes ?? 0,
      capacityBytes: chip.hbmBytes,
    };
    const empty = {
      batch: null,
      stepS: null,
      serialS: null,
      tokensPerS: null,
      tokensPerSPerChip: null,
      dollarsPerMTokens: null,
      bound: null,
      command: null,
    };
    if (!one?.memory.fits) {
      const need = one ? `${(one.memory.totalBytes / 1e9).toFixed(1)} GB per chip` : "no layout";
      rows.push({ ...base, fits: false, ...empty, note: `does not fit: ${need}` });
      continue;
    }
    const fitsAt = (b: number) => step(m, decode(b, q.context))?.memory.fits === true;
    const withinLatency = (b: number) =>
      q.latencyS === undefined ||
      (step(m, decode(b, q.context))?.totals.stepS ?? 1e9) <= q.latencyS;
    let batch: number;
    const perChip = (b: number) => {
      const s = step(m, decode(b, q.context));
      return s ? b / s.totals.stepS / m.chips : 0;
    };
    if (q.batch !== undefined) {
      batch = q.batch;
    } else if (q.minTokensPerSPerChip !== undefined) {
      // The lowest-latency batch that meets the throughput floor: the smallest whose tokens/s
      // per chip reach it, among those that fit.
      let most = 1;
      while (most < 4096 && fitsAt(most * 2)) most *= 2;
      let above = Math.min(4096, most * 2);
      while (above - most > 1) {
        const mid = (most + above) >> 1;
        if (fitsAt(mid)) most = mid;
        else above = mid;
      }
      // Throughput is not monotone in the batch (a batch the mesh does not split lays out
      // otherwise), so the batches that fit are tried in order.
      const target = q.minTokensPerSPerChip;
      let found: number | undefined;
      let best = { batch: 1, rate: 0 };
      for (let b = 1; b <= most && found === undefined; b++) {
        const rate = perChip(b);
        if (rate >= target) found = b;
        else if (rate > best.rate) best = { batch: b, rate };
      }
      if (found === undefined) {
        const note =
          `no batch that fits reaches it: at best ${best.rate.toFixed(1)} tokens/s/chip ` +
          `(batch ${best.batch}), under --min-throughput`;
        rows.push({ ...base, fits: true, ...empty, batch: best.batch, note });
        continue;
      }
      batch = found;
    } else {
      // Memory grows with the batch, and so does the step: the largest batch both allow.
      let lo = 1;
      while (lo < 4096 && fitsAt(lo * 2) && withinLatency(lo * 2)) lo *= 2;
      let hi = Math.min(4096, lo * 2);
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (fitsAt(mid) && withinLatency(mid)) lo = mid;
        else hi = mid;
      }
      batch = lo;
    }
    const s = step(m, decode(batch, q.context));
    if (!s?.memory.fits) {
      rows.push({ ...base, fits: true, ...empty, batch, note: `batch ${batch} does not fit` });
      continue;
    }
    if (q.latencyS !== undefined && s.totals.stepS > q.latencyS) {
      const note = `even batch ${batch} takes ${ms(s.totals.stepS)}, over --latency-ms`;
      rows.push({ ...base, fits: true, ...empty, batch, note });
      continue;
    }
    const tokensPerS = batch / s.totals.stepS;
    rows.push({
      ...base,
      fits: true,
      batch,
      stepS: s.totals.stepS,
      serialS: s.totals.serialS,
      tokensPerS,
      tokensPerSPerChip: tokensPerS / m.chips,
      dollarsPerMTokens: price === undefined ? null : (m.chips * price * 1e6) / (tokensPerS * 3600),
      bound: s.totals.bound,
      note: null,
      command: command(m, batch, q.context),
    });
  }

  const first = rows.findIndex((r) => r.fits && r.stepS !== null);
  const smallest = first >= 0 ? rows[first]! : undefined;
  let request: Plan["request"] = null;
  if (smallest) {
    const m = meshes[first]!;
    const batch = smallest.batch!;
    // Time to first token: one prompt's prefill, alone on the slice.
    const prefillQuery: StepQuery = { ...decode(1, q.prompt), phase: "prefill" };
    const prefill = step(m, prefillQuery);
    // Decode at the request's mean KV length (the step is affine in it): prompt + (output+1)/2.
    const meanSeq = q.prompt + Math.ceil((q.output + 1) / 2);
    const mid = step(m, decode(batch, meanSeq));
    if (prefill && mid) {
      const ttft = prefill.totals.stepS;
      request = {
        mesh: smallest.mesh,
        batch,
        timeToFirstTokenS: ttft,
        decodeStepS: mid.totals.stepS,
        requestS: ttft + q.output * mid.totals.stepS,
        prefillToDecode: prefillToDecodeRatio(ttft, mid.totals.stepS, q.output, batch),
        commands: [command(m, 1, q.prompt, "prefill"), command(m, batch, meanSeq)],
      };
    }
  }
  return {
    model: q.config.name,
    efficiency: q.efficiency,
    chip: chipKey(chip),
    layout: q.layout,
    context: q.context,
    rows,
    smallest: smallest?.mesh ?? null,
    criticalBatch: criticalBatch(
      q.config.D,
      q.config.F,
      q.weights ?? "bf16",
      q.compute ?? "bf16",
      chipKey(chip),
      q.config.moe ?? { experts: 1, topK: 1 },
    ),
    request,
  };
}

const ms = (s: number) => (s >= 1 ? `${s.toFixed(2)} s` : `${(s * 1e3).toPrecision(3)} ms`);

/** The plan as text: a table of slices, then the request on the smallest that fits. */
export function formatPlan(p: Plan, showCommands: boolean): string {
  const lines = [
    `${p.model} on ${p.chip}, ${p.layout}, KV cache ${p.context} positions`,
    `${assumptionLine(p.efficiency)} Step: collectives overlapped.`,
    "",
    "slice     chips  fits  batch   step (serial)          tokens/s  tokens/s/chip  $/M tokens  bound",
  ];
  for (const r of p.rows) {
    if (r.stepS === null) {
      lines.push(
        `${r.mesh.padEnd(9)} ${String(r.chips).padStart(5)}  ${(r.fits ? "yes" : "no").padEnd(4)}  ${r.note}`,
      );
      continue;
    }
    lines.push(
      `${r.mesh.padEnd(9)} ${String(r.chips).padStart(5)}  yes   ${String(r.batch).padStart(5)}   ` +
        `${`${ms(r.stepS)} (${ms(r.serialS!)})`.padEnd(21)}  ${r.tokensPerS!.toFixed(0).padStart(8)}  ` +
        `${r.tokensPerSPerChip!.toFixed(1).padStart(13)}  ${(r.dollarsPerMTokens === null ? "—" : `$${r.dollarsPerMTokens.toFixed(2)}`).padStart(10)}  ${r.bound}`,
    );
    if (showCommands && r.command) lines.push(`          ${r.command}`);
  }
  lines.push("");
  lines.push(`smallest slice that fits: ${p.smallest ?? "none of these"}`);
  lines.push(`critical batch (decode matmuls turn compute-bound): ${p.criticalBatch}`);
  if (p.request) {
    const r = p.request;
    lines.push(
      `on ${r.mesh} at batch ${r.batch}: time to first token ${ms(r.timeToFirstTokenS)}, ` +
        `a decode step ${ms(r.decodeStepS)}, the whole request ${ms(r.requestS)}`,
    );
    lines.push(`prefill:decode chips to keep both busy: ${r.prefillToDecode.toFixed(2)}`);
    if (showCommands) for (const c of r.commands) lines.push(`  ${c}`);
  }
  return lines.join("\n");
}
