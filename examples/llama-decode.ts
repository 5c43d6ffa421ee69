/**
 * An 80-layer LLaMA-3-70B decode step: int8 weights, bf16 KV cache and compute, batch 32
 * against an 8k-token cache. First on one TPU v5e — it does not fit in 16 GB, and the report
 * says by how much — then model-parallel on a v5e 4x4, where it does.
 */
import {
  chip,
  estimate,
  formatBytes,
  formatMemory,
  formatOpTable,
  formatTime,
  formatTotals,
  trace,
} from "@shardcost/core";
import { LLAMA3_70B, llamaDecode } from "@shardcost/ops";
import { resolveLayout } from "@shardcost/serving";
import { estimateSpmd, lower, mesh, printMesh } from "@shardcost/sharding";

const batch = 32;
const seq = 8192;
const config = { batch, seq, weights: "int8", kv: "bf16" } as const;

const model = llamaDecode(LLAMA3_70B, config);
const program = trace(model.fn, model.inputs, model.dims);
const v5e = chip("v5e");
const est = estimate(program, v5e);

console.log(
  `LLaMA-3-70B decode step · batch ${batch} · KV cache ${seq} · int8 weights · ` +
    `bf16 KV and compute\n`,
);
console.log(`${program.eqns.length} traced equations, ${est.ops.length} fused kernels\n`);
console.log(`On one ${v5e.name} — kernels of one step, the same op on the same line merged:`);
console.log(formatOpTable(est, { top: 12, aggregate: true }));
console.log(`\n${formatTotals(est)}`);
console.log(`${(batch / est.totals.timeS).toFixed(0)} tokens/s`);
console.log(`\n${formatMemory(est)}`);
console.log(
  `Holding ${formatBytes(est.memory.totalBytes)} takes at least ` +
    `${Math.ceil(est.memory.totalBytes / v5e.hbmBytes)} chips of ${formatBytes(v5e.hbmBytes)}.`,
);

// The same model under the 1d-ws layout (query heads, MLP and vocab over X and Y; KV heads over
// X; the KV cache over heads and batch), lowered onto 16 chips: collectives inserted, costed
// per chip.
const m = mesh("v5e", { X: 4, Y: 4 });
const layout = resolveLayout("1d-ws", LLAMA3_70B, m, { batch, seq });
for (const choice of layout.choices) console.log(`layout: ${choice}`);
const sharded = llamaDecode(LLAMA3_70B, { ...config, layout });
const lowered = lower(trace(sharded.fn, sharded.inputs, sharded.dims), m);
const perChip = estimateSpmd(lowered, m);
console.log(`\nOn ${printMesh(m)}, per chip:`);
console.log(formatOpTable(perChip, { top: 12, aggregate: true }));
console.log(`\n${formatTotals(perChip)}`);
const tps = batch / perChip.totals.serialS;
console.log(
  `${tps.toFixed(0)} tokens/s, ${(tps / m.chips).toFixed(1)} tokens/s/chip ` +
    `(${formatTime(perChip.totals.serialS)} a step)`,
);
console.log(`\n${formatMemory(perChip)}`);
