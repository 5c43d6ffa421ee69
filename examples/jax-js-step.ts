/**
 * The LLaMA-3 decode step written for jax-js (`makeJaxpr`), for the bench's side-by-side trace
 * timing only: the same layers and ops as `@shardcost/ops`' step with naive attention —
 * embedding lookup, RMSNorm, q/k/v projections, rotary embeddings, the KV cache written at the
 * position (a masked write: jax-js has no dynamic_update_slice), grouped-query attention with a
 * softmax, the output projection, a SwiGLU MLP, the final norm and the logits.
 */
// jax-js calls iterator helpers (Node 22+); on Node 20 they are supplied here, for the bench.
const iteratorProto = Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]()));
if (!iteratorProto.map) {
  iteratorProto.map = function* (this: Iterable<unknown>, f: (x: unknown, i: number) => unknown) {
    let i = 0;
    for (const x of this) yield f(x, i++);
  };
  iteratorProto.filter = function* (
    this: Iterable<unknown>,
    f: (x: unknown, i: number) => boolean,
  ) {
    let i = 0;
    for (const x of this) if (f(x, i++)) yield x;
  };
  iteratorProto.toArray = function (this: Iterable<unknown>) {
    return [...this];
  };
}
const { makeJaxpr, numpy: np, nn } = await import("@jax-js/jax");
type JArray = ReturnType<typeof np.zeros>;
type LlamaConfig = import("@shardcost/ops").LlamaConfig;

/**
 * Model sizes for the jax-js side (its tracer needs example arrays; times do not depend on
 * sizes): a LLaMA config's dims, with a batch and a cache length.
 */
export type JaxStepSizes = Pick<LlamaConfig, "layers" | "D" | "F" | "N" | "K" | "H" | "V"> & {
  readonly B: number;
  readonly S: number;
};

interface Layer {
  attnNorm: JArray;
  wq: JArray;
  wk: JArray;
  wv: JArray;
  wo: JArray;
  mlpNorm: JArray;
  gate: JArray;
  up: JArray;
  down: JArray;
}
interface Inputs {
  tokens: JArray;
  pos: JArray;
  sin: JArray;
  cos: JArray;
  mask: JArray;
  embed: JArray;
  layers: Layer[];
  kv: { k: JArray; v: JArray }[];
  finalNorm: JArray;
  unembed: JArray;
}

function rmsnorm(x: JArray, w: JArray): JArray {
  const ms = np.mean(np.square(x.ref), -1, { keepdims: true });
  return np.multiply(np.multiply(x, np.reciprocal(np.sqrt(np.add(ms, 1e-5)))), w);
}

function rope(x: JArray, sin: JArray, cos: JArray, half: number, B: number) {
  const [a, b] = np.split(x, 2, -1) as [JArray, JArray];
  const s = np.reshape(sin, [B, 1, half]);
  const c = np.reshape(cos, [B, 1, half]);
  return np.concatenate(
    [
      np.subtract(np.multiply(a.ref, c.ref), np.multiply(b.ref, s.ref)),
      np.add(np.multiply(b, c), np.multiply(a, s)),
    ],
    -1,
  );
}

function step(z: JaxStepSizes) {
  const G = z.N / z.K;
  const half = z.H / 2;
  return (x: Inputs) => {
    let h = np.take(x.embed.ref, x.tokens, 0);
    const at = np.reshape(np.equal(np.arange(z.S), x.pos), [1, z.S, 1, 1]);
    const caches: { k: JArray; v: JArray }[] = [];
    x.layers.forEach((l, i) => {
      const kv = x.kv[i]!;
      const a = rmsnorm(h.ref, l.attnNorm);
      const q = rope(np.einsum("bd,dnh->bnh", a.ref, l.wq), x.sin.ref, x.cos.ref, half, z.B);
      const k = rope(np.einsum("bd,dkh->bkh", a.ref, l.wk), x.sin.ref, x.cos.ref, half, z.B);
      const v = np.einsum("bd,dkh->bkh", a, l.wv);
      const kc = np.where(at.ref, np.reshape(k, [z.B, 1, z.K, z.H]), kv.k);
      const vc = np.where(at.ref, np.reshape(v, [z.B, 1, z.K, z.H]), kv.v);
      caches.push({ k: kc.ref, v: vc.ref });
      const qg = np.reshape(q, [z.B, z.K, G, z.H]);
      const scores = np.add(
        np.multiply(np.einsum("bkgh,bskh->bkgs", qg, kc), 1 / Math.sqrt(z.H)),
        np.reshape(x.mask.ref, [z.B, 1, 1, z.S]),
      );
      const o = np.einsum("bkgs,bskh->bkgh", nn.softmax(scores, -1), vc);
      h = np.add(h, np.einsum("bnh,nhd->bd", np.reshape(o, [z.B, z.N, z.H]), l.wo));
      const m = rmsnorm(h.ref, l.mlpNorm);
      const g = nn.silu(np.einsum("bd,df->bf", m.ref, l.gate));
      const hidden = np.multiply(g, np.einsum("bd,df->bf", m, l.up));
      h = np.add(h, np.einsum("bf,fd->bd", hidden, l.down));
    });
    const logits = np.einsum("bd,dv->bv", rmsnorm(h, x.finalNorm), x.unembed);
    return { logits, caches: caches.flatMap((c) => [c.k, c.v]) };
  };
}

/** Example inputs of the right shapes (zeros), built once. */
function inputs(z: JaxStepSizes): Inputs {
  const f = (shape: number[]) => np.zeros(shape);
  return {
    tokens: np.zeros([z.B], { dtype: np.int32 }),
    pos: np.zeros([], { dtype: np.int32 }),
    sin: f([z.B, z.H / 2]),
    cos: f([z.B, z.H / 2]),
    mask: f([z.B, z.S]),
    embed: f([z.V, z.D]),
    layers: Array.from({ length: z.layers }, () => ({
      attnNorm: f([z.D]),
      wq: f([z.D, z.N, z.H]),
      wk: f([z.D, z.K, z.H]),
      wv: f([z.D, z.K, z.H]),
      wo: f([z.N, z.H, z.D]),
      mlpNorm: f([z.D]),
      gate: f([z.D, z.F]),
      up: f([z.D, z.F]),
      down: f([z.F, z.D]),
    })),
    kv: Array.from({ length: z.layers }, () => ({
      k: f([z.B, z.S, z.K, z.H]),
      v: f([z.B, z.S, z.K, z.H]),
    })),
    finalNorm: f([z.D]),
    unembed: f([z.D, z.V]),
  };
}

/** A function that traces the step with jax-js once and returns its equation count. */
export function jaxJsTracer(z: JaxStepSizes): () => number {
  const example = inputs(z);
  const fn = step(z);
  return () => {
    const { jaxpr } = makeJaxpr(fn)(example);
    return (jaxpr as unknown as { jaxpr: { eqns: unknown[] } }).jaxpr.eqns.length;
  };
}
