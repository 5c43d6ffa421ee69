/**
 * 1D vs 2D weight-stationary sharding of LLaMA-3-70B's MLP in a decode step on TPU v5e, from 8
 * to 256 chips (ESTI §3.2; the book's inference chapter; seed case S21).
 *
 * 1D (Win[D, F_XYZ]): every chip holds a slice of F; each layer gathers the [B, D] input and
 * reduce-scatters the [B, D] output over all chips. Those bytes don't shrink with more chips,
 * and the links of the three axes are all the bandwidth there is, so the per-layer comm time
 * stays ≈ 2·BD/W while compute falls as 1/N: past a few dozen chips the layer is ICI-bound.
 *
 * 2D (Win[D_X, F_YZ]): D is split over X as well. The input is gathered over YZ only (its
 * slice along X stays), partial sums are reduced over X, and the output reduce-scattered over
 * YZ: comms ≈ 2BD/(X·W) + 4BF/(YZ·W), minimised near X = √(N·D/2F), falling as 1/√N. At small
 * chip counts its extra reduction costs more than 1D's; past the crossover it wins.
 *
 * Batch 512: large enough that bandwidth, not per-hop latency, sets the comm times.
 */
import { formatBytes, formatTime, table } from "@shardcost/core";
import { LLAMA3_70B } from "@shardcost/ops";
import { mlpLayoutStudy, STUDY_SHAPES, StepEstimator } from "@shardcost/serving";
import { mesh } from "@shardcost/sharding";

const batch = 512;
const rows = mlpLayoutStudy(LLAMA3_70B, batch, "v5e");
const chips = [...new Set(rows.map((r) => r.chips))];
const get = (n: number, layout: string) => rows.find((r) => r.chips === n && r.layout === layout)!;

console.log(`LLaMA-3-70B MLP layer, decode at batch ${batch}, TPU v5e, per chip:\n`);
console.log(
  table(
    ["chips", "1D comm", "2D comm", "compute", "1D layer", "2D layer", "faster"],
    chips.map((n) => {
      const one = get(n, "1d-ws");
      const two = get(n, "2d-ws");
      return [
        String(n),
        formatTime(one.commS),
        formatTime(two.commS),
        formatTime(one.computeS),
        formatTime(one.stepS),
        formatTime(two.stepS),
        two.commS < one.commS ? "2D" : "1D",
      ];
    }),
    ["right", "right", "right", "right", "right", "right", "left"],
  ),
);
const crossover = chips.find((n) => get(n, "2d-ws").commS < get(n, "1d-ws").commS);
console.log(
  crossover === undefined
    ? "\n2D weight-stationary never beats 1D here."
    : `\n2D weight-stationary communicates less from ${crossover} chips on.`,
);

// The same question on the whole decode step (attention, norms, embeddings included), as
// `shardcost compare` asks it, from the named layouts.
const engine = new StepEstimator();
const query = { phase: "decode", batch, seq: 2048, weights: "int8" } as const;
const whole = STUDY_SHAPES.map((shape) => {
  const m = mesh("v5e", shape);
  const [one, two] = (["1d-ws", "2d-ws"] as const).map((l) => engine.step(LLAMA3_70B, query, l, m));
  return { chips: m.chips, one: one!.totals, two: two!.totals };
});
console.log(
  `\nLLaMA-3-70B decode step (int8 weights, batch ${batch}, KV 2048), whole model, per chip:\n`,
);
console.log(
  table(
    ["chips", "1D ICI", "2D ICI", "1D ICI time", "2D ICI time", "1D step", "2D step"],
    whole.map((r) => [
      String(r.chips),
      formatBytes(r.one.iciBytes),
      formatBytes(r.two.iciBytes),
      formatTime(r.one.iciS),
      formatTime(r.two.iciS),
      formatTime(r.one.serialS),
      formatTime(r.two.serialS),
    ]),
    ["right", "right", "right", "right", "right", "right", "right"],
  ),
);
const from = (pick: (t: (typeof whole)[number]["one"]) => number) =>
  whole.find((r) => pick(r.two) < pick(r.one))?.chips;
console.log(
  `\n2D is ahead from: ICI bytes ${from((t) => t.iciBytes) ?? "never"}, ICI time ` +
    `${from((t) => t.iciS) ?? "never"}, serial step ${from((t) => t.serialS) ?? "never"} chips.`,
);
