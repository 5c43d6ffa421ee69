// A shardcost model file: one gated-MLP layer of a decode step laid out 2D weight-stationary
// (ESTI's Win[D_X, F_YZ]). Inputs are declared in the book's notation; `model()` bundles them
// with the dims and the forward function, and TypeScript infers that `t.x`, `t.gate`, … are
// tracers. Try:
//   npx shardcost estimate model.ts --mesh v5e:2x4x4
//   npx shardcost explain model.ts --mesh v5e:2x4x4
//   npx shardcost sweep model.ts --mesh v5e:2x2x2,v5e:2x4x4 --dim B=64,256

import { model, param, tensor } from "@shardcost/core";
import { einsum, mul, shard, silu } from "@shardcost/ops";

const inputs = {
  x: tensor("x[B, D_XYZ]", "bf16"),
  gate: param("Wgate[D_X, F_YZ]", "int8"),
  up: param("Wup[D_X, F_YZ]", "int8"),
  down: param("Wdown[F_YZ, D_X]", "int8"),
};

export default model({ inputs, dims: { B: 256, D: 8192, F: 28672 } }, (t) => {
  const x = shard(t.x, "[B, D_X]");
  const hidden = mul(silu(einsum("BD,DF->BF", x, t.gate)), einsum("BD,DF->BF", x, t.up));
  const out = einsum("BF,FD->BD", shard(hidden, "[B, F_YZ]"), t.down);
  return { out: shard(out, "[B, D_XYZ]") };
});
