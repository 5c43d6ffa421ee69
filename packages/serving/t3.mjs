import { searchLayouts } from "@shardcost/serving";
import { LLAMA3_70B, LLAMA3_405B } from "@shardcost/ops";
import { mesh } from "@shardcost/sharding";
const cases = [
  [LLAMA3_70B, {X:4,Y:4}, {phase:"decode", batch:1, seq:2048}],
  [LLAMA3_70B, {X:4,Y:4}, {phase:"decode", batch:8, seq:2048}],
  [LLAMA3_70B, {X:4,Y:4}, {phase:"decode", batch:16, seq:8192, weights:"int8", kv:"int8"}],
  [LLAMA3_70B, {X:8,Y:8}, {phase:"decode", batch:64, seq:4096}],
  [LLAMA3_70B, {X:4,Y:4,Z:4}, {phase:"decode", batch:64, seq:4096}],
  [LLAMA3_405B, {X:16,Y:16}, {phase:"decode", batch:256, seq:8192}],
];
for (const [cfg, shape, q] of cases) {
  const m = mesh(shape.Z ? "v4" : "v5e", shape);
  const r = await searchLayouts(cfg, q, m, {beam: Number(process.env.BEAM ?? 4)});
  const pre = r.presets.filter(p=>p.candidate&&p.candidate.costs.memory.fits).map(p=>p.candidate.costs.totals.stepS).sort((a,b)=>a-b)[0];
  console.log(cfg.name, JSON.stringify(shape), q.phase, q.batch, r.method, "space", r.spaceSize, "eval", r.evaluated, r.seconds.toFixed(1)+"s",
   r.presets.map(p=>p.name+"="+(p.candidate?(p.candidate.costs.totals.stepS*1e3).toFixed(2)+(p.candidate.costs.memory.fits?"":"✗"):"err")).join(" "),
   "best", r.best.preset ?? "found", (r.best.costs.totals.stepS*1e3).toFixed(2), "gain", ((1-r.best.costs.totals.stepS/pre)*100).toFixed(1)+"%");
}
