// A model file for the shardcost CLI: one gated MLP layer of a decode step, 2D weight-stationary
// (ESTI's Win[D_X, F_YZ]). Run it with
//   npx shardcost estimate examples/models/mlp-2d.ts --mesh v5e:2x4x4

import { type Traced, tensor } from "@shardcost/core";
import { einsum, mul, shard, silu } from "@shardcost/ops";

export const dims = { B: 256, D: 8192, F: 28672 };

export const inputs = {
  x: tensor("x[B, D_XYZ]", "bf16"),
  gate: tensor("Wgate[D_X, F_YZ]", "int8", "param"),
  up: tensor("Wup[D_X, F_YZ]", "int8", "param"),
  down: tensor("Wdown[F_YZ, D_X]", "int8", "param"),
};

// The function receives a Tracer for each declared tensor: `Traced<typeof inputs>` says so.
export default function mlp(t: Traced<typeof inputs>) {
  const x = shard(t.x, "[B, D_X]");
  const hidden = mul(silu(einsum("BD,DF->BF", x, t.gate)), einsum("BD,DF->BF", x, t.up));
  const out = einsum("BF,FD->BD", shard(hidden, "[B, F_YZ]"), t.down);
  return { out: shard(out, "[B, D_XYZ]") };
}

// The inputs `shardcost search` may lay out (their shardings above are the baseline it must beat):
//   npx shardcost search examples/models/mlp-2d.ts --mesh v5e:2x4x4
export const roles = ["x", "gate", "up", "down"];
