/**
 * An 80-layer LLaMA-3-70B decode step on one TPU v5e: int8 weights, bf16 KV cache and compute,
 * batch 32 against an 8k-token cache. It does not fit in 16 GB, and the report says by how much.
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

const batch = 32;
const seq = 8192;
const model = llamaDecode(LLAMA3_70B, { batch, seq, weights: "int8", kv: "bf16" });
const program = trace(model.fn, model.inputs, model.dims);
const v5e = chip("v5e");
const est = estimate(program, v5e);

const tokensPerS = batch / est.totals.timeS;
console.log(
  `LLaMA-3-70B decode step · batch ${batch} · KV cache ${seq} · int8 weights · ` +
    `bf16 KV and compute · one ${v5e.name}\n`,
);
console.log(`${program.eqns.length} traced equations, ${est.ops.length} fused kernels\n`);
console.log("Kernels of one step, the same op on the same line of every layer merged:");
console.log(formatOpTable(est, { top: 12, aggregate: true }));
console.log("\nStep:");
console.log(formatTotals(est));
console.log(
  `throughput ${tokensPerS.toFixed(0)} tokens/s (${formatTime(est.totals.timeS)} a step)`,
);
console.log("\nMemory:");
console.log(formatMemory(est));
console.log(
  `\nHolding ${formatBytes(est.memory.totalBytes)} takes at least ` +
    `${Math.ceil(est.memory.totalBytes / v5e.hbmBytes)} chips of ${formatBytes(v5e.hbmBytes)}.`,
);
