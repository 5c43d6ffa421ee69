import { composite, type Tracer } from "@shardcost/core";
import { contractTo } from "../einsum.js";
import { mul, silu } from "../elementwise.js";
import { softmax } from "../nn.js";

/** A MoE layer's weights: the router and the experts' gate, up and down projections. */
export interface MoeWeights {
  /** Router [D, E]; experts' gate and up [E, D, F], down [E, F, D]. */
  readonly router: Tracer;
  readonly expertGate: Tracer;
  readonly expertUp: Tracer;
  readonly expertDown: Tracer;
}

/**
 * A mixture-of-experts SwiGLU (GShard-style dispatch). Tokens come in groups `Gr` of `Tg`
 * tokens; `dispatch[Gr, Tg, E, C]` is the routing decision (1 where token t takes slot c of
 * expert e, each token in its top k), made by routing code outside the traced step. Tokens are
 * gathered per expert (`[E, Gr, C, D]`: with experts and groups sharded on one axis this is an
 * AllToAll), run through their experts, weighted by the router's softmax and sent back.
 */
export const moeMlp = composite(function moeMlp(
  x: Tracer,
  w: MoeWeights,
  dispatch: Tracer,
): Tracer {
  const probs = softmax(contractTo([...x.dims.filter((d) => d !== "D"), "E"], x, w.router), "E");
  const xe = contractTo(["E", "Gr", "C", "D"], x, dispatch);
  const h = mul(
    silu(contractTo(["E", "Gr", "C", "F"], xe, w.expertGate)),
    contractTo(["E", "Gr", "C", "F"], xe, w.expertUp),
  );
  const ye = contractTo(["E", "Gr", "C", "D"], h, w.expertDown);
  return contractTo(x.dims, ye, mul(dispatch, probs));
});
