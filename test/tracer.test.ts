import { packed, param, printProgram, sourceOf, tensor, trace } from "@shardcost/core";
import {
  attention,
  einsum,
  LLAMA3_8B,
  llamaDecode,
  mul,
  rmsnorm,
  shard,
  silu,
  split,
} from "@shardcost/ops";
import { describe, expect, it } from "vitest";

describe("trace and print", () => {
  it("prints a traced gated MLP in the book's notation", () => {
    const program = trace(
      (x) => {
        const h = mul(silu(einsum("BD,DF->BF", x.x, x.w.Win1)), einsum("BD,DF->BF", x.x, x.w.Win2));
        return einsum("BF,FD->BD", shard(h, "[B, F_YZ]"), x.w.Wout);
      },
      {
        x: tensor("In[B, D_X]", "bf16"),
        w: {
          Win1: param("Win1[D_X, F_YZ]", "int8"),
          Win2: param("Win2[D_X, F_YZ]", "int8"),
          Wout: param("Wout[F_YZ, D_X]", "int8"),
        },
      },
      { B: 64, D: 8192, F: 28672 },
    );
    expect(printProgram(program)).toMatchInlineSnapshot(`
      "{ lambda In:bf16[B, D_X] Win1:int8[D_X, F_YZ] Win2:int8[D_X, F_YZ] Wout:int8[F_YZ, D_X] .
          a:bf16[D, F] = astype[bf16] Win1:int8[D_X, F_YZ]
          b:bf16[B, F] = einsum[BD,DF->BF] In:bf16[B, D_X] a:bf16[D, F]
          c:bf16[B, F] = silu b:bf16[B, F]
          d:bf16[D, F] = astype[bf16] Win2:int8[D_X, F_YZ]
          e:bf16[B, F] = einsum[BD,DF->BF] In:bf16[B, D_X] d:bf16[D, F]
          f:bf16[B, F] = mul c:bf16[B, F] e:bf16[B, F]
          g:bf16[B, F_YZ] = shard[[B, F_YZ]] f:bf16[B, F]
          h:bf16[F, D] = astype[bf16] Wout:int8[F_YZ, D_X]
          i:bf16[B, D] = einsum[BF,FD->BD] g:bf16[B, F_YZ] h:bf16[F, D]
        in (i) }"
    `);
  });

  it("records the user's source line for every equation", () => {
    const next = Number(/tracer\.test\.ts:(\d+)/.exec(new Error().stack ?? "")?.[1]) + 1;
    const program = trace((x) => silu(x), tensor("[B, D]"), { B: 2, D: 4 });
    const loc = sourceOf(program, program.eqns[0]!)?.location;
    expect(loc?.file).toMatch(/test\/tracer\.test\.ts$/);
    expect(loc?.line).toBe(next);
  });

  it("recovers lines lazily exactly as capture at trace time records them", () => {
    const model = llamaDecode({ ...LLAMA3_8B, layers: 2 }, { batch: 2, seq: 16 });
    const lazy = trace(model.fn, model.inputs, model.dims);
    const eager = trace(model.fn, model.inputs, model.dims, { sourceLocations: true });
    expect(lazy.eqns.every((e) => e.source === undefined)).toBe(true);
    const where = (p: typeof lazy) =>
      p.eqns.map((e) => {
        const loc = sourceOf(p, e)?.location;
        return loc ? `${loc.file}:${loc.line}` : "?";
      });
    expect(where(lazy)).toEqual(where(eager));
    expect(where(eager).every((w) => /models\/llama\.ts:\d+$/.test(w))).toBe(true);
  });

  it("prints an attention block with grouped-query heads", () => {
    const program = trace(
      (x) => {
        const h = rmsnorm(x.x, x.norm, "D");
        const q = split(einsum("BTD,DNH->BTNH", h, x.wq), "N", { K: 2, G: 2 });
        const k = einsum("BSD,DKH->BSKH", x.ctx, x.wk);
        const v = einsum("BSD,DKH->BSKH", x.ctx, x.wv);
        return attention(q, k, v, { query: "T", key: "S", head: "H" });
      },
      {
        x: tensor("x[B, T, D]"),
        ctx: tensor("ctx[B, S, D]"),
        norm: param("norm[D]"),
        wq: param("Wq[D, N, H]"),
        wk: param("Wk[D, K, H]"),
        wv: param("Wv[D, K, H]"),
      },
      { B: 2, T: 4, S: 4, D: 8, N: 4, K: 2, H: 4 },
    );
    expect(printProgram(program)).toMatchInlineSnapshot(`
      "{ lambda x:bf16[B, T, D] ctx:bf16[B, S, D] norm:bf16[D] Wq:bf16[D, N, H] Wk:bf16[D, K, H] Wv:bf16[D, K, H] .
          a:f32[B, T, D] = astype[f32] x:bf16[B, T, D]
          b:f32[B, T, D] = mul a:f32[B, T, D] a:f32[B, T, D]
          c:f32[B, T] = mean[D] b:f32[B, T, D]
          d:f32[B, T] = add c:f32[B, T] 0.00001
          e:f32[B, T] = rsqrt d:f32[B, T]
          f:f32[B, T, D] = mul a:f32[B, T, D] e:f32[B, T]
          g:bf16[B, T, D] = astype[bf16] f:f32[B, T, D]
          h:bf16[B, T, D] = mul g:bf16[B, T, D] norm:bf16[D]
          i:bf16[B, T, N, H] = einsum[BTD,DNH->BTNH] h:bf16[B, T, D] Wq:bf16[D, N, H]
          j:bf16[B, T, K, G, H] = split[N→K,G] i:bf16[B, T, N, H]
          k:bf16[B, S, K, H] = einsum[BSD,DKH->BSKH] ctx:bf16[B, S, D] Wk:bf16[D, K, H]
          l:bf16[B, S, K, H] = einsum[BSD,DKH->BSKH] ctx:bf16[B, S, D] Wv:bf16[D, K, H]
          m:bf16[B, T, K, G, S] = einsum[BTKGH,BSKH->BTKGS] j:bf16[B, T, K, G, H] k:bf16[B, S, K, H]
          n:bf16[B, T, K, G, S] = mul m:bf16[B, T, K, G, S] 0.5
          o:bf16[B, T, K, G] = reduce_max[S] n:bf16[B, T, K, G, S]
          p:bf16[B, T, K, G, S] = sub n:bf16[B, T, K, G, S] o:bf16[B, T, K, G]
          q:bf16[B, T, K, G, S] = exp p:bf16[B, T, K, G, S]
          r:bf16[B, T, K, G] = sum[S] q:bf16[B, T, K, G, S]
          s:bf16[B, T, K, G, S] = div q:bf16[B, T, K, G, S] r:bf16[B, T, K, G]
          t:bf16[B, T, K, G, H] = einsum[BTKGS,BSKH->BTKGH] s:bf16[B, T, K, G, S] l:bf16[B, S, K, H]
        in (t) }"
    `);
  });
});

describe("packed", () => {
  it("copies the first n items, whatever n", () => {
    const xs = ["a", "b", "c", "d", "e"];
    for (let n = 0; n <= xs.length; n++) {
      const copy = packed(xs, n);
      expect(copy).toEqual(xs.slice(0, n));
      expect(copy).not.toBe(xs);
    }
  });
});
