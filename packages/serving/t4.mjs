import { searchLayouts, workerEvaluator } from "@shardcost/serving";
import { LLAMA3_70B, LLAMA3_405B } from "@shardcost/ops";
import { mesh } from "@shardcost/sharding";
const m = mesh("v5e", {X:16,Y:16});
for (const cfg of [LLAMA3_70B, LLAMA3_405B]) for (const w of [1,2]) {
  const q = {phase:"decode", batch:256, seq:2048};
  const pool = workerEvaluator(cfg, q, m, w);
  const r = await searchLayouts(cfg, q, m, {evaluate: pool.evaluate, beam: 8});
  await pool.close();
  console.log(cfg.name, w, r.seconds.toFixed(2), r.evaluated, r.best.key.length, (r.best.costs.totals.stepS*1e3).toFixed(3), r.best.preset);
}
