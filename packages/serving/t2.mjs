import { searchLayouts, roleNotation, printedRoles, spaceSize } from "@shardcost/serving";
import { LLAMA3_70B } from "@shardcost/ops";
import { mesh } from "@shardcost/sharding";
const cases = [
  [{X:4,Y:4}, {phase:"decode", batch:32, seq:8192, weights:"int8", kv:"int8"}],
  [{X:16,Y:16}, {phase:"decode", batch:256, seq:2048}],
  [{X:16,Y:16}, {phase:"prefill", batch:1, seq:8192}],
];
for (const [shape, q] of cases) {
  const m = mesh("v5e", shape);
  const r = await searchLayouts(LLAMA3_70B, q, m);
  console.log(JSON.stringify(shape), q.phase, q.batch, r.method, "space", r.spaceSize, "eval", r.evaluated, "rej", r.rejected, r.seconds.toFixed(1)+"s");
  for (const p of r.presets) console.log("  ", p.name, p.candidate ? (p.candidate.costs.totals.stepS*1e3).toFixed(2)+" ms fits="+p.candidate.costs.memory.fits : p.error);
  for (const c of r.top) console.log("  top", c.preset ?? "", (c.costs.totals.stepS*1e3).toFixed(2), c.costs.memory.fits, JSON.stringify(c.point));
  console.log("  ", printedRoles(LLAMA3_70B).map(x=>roleNotation(r.best.layout,x)).join(" "));
}
