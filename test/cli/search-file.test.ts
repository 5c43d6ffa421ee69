// `shardcost search model.ts`: a model file's declared roles searched, saved and estimated again.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { expectNoStackTrace, scratch, shardcost } from "./run.js";

interface RoleJson {
  best: { roles: Record<string, string>; stepS: number; asWritten: boolean; fits: boolean };
  asWritten: { stepS: number } | null;
  why: { largestCut?: string } | null;
  method: string;
  exhausted: boolean;
}

// Weights replicated: a poor layout the search should beat by sharding them.
const REPLICATED = `import { tensor, model } from "@shardcost/core";
import { einsum, silu } from "@shardcost/ops";
const inputs = {
  x: tensor("x[B, D]", "bf16"),
  w1: tensor("W1[D, F]", "bf16", "param"),
  w2: tensor("W2[F, D]", "bf16", "param"),
};
export default model({ inputs, dims: { B: 64, D: 4096, F: 16384 }, roles: ["w1", "w2"] }, (t) => ({
  y: einsum("BF,FD->BD", silu(einsum("BD,DF->BF", t.x, t.w1)), t.w2),
}));
`;

describe("search on a model file's roles", () => {
  it("beats replicated weights, says why, and the saved roles estimate to the same step", () => {
    const dir = scratch({ "model.ts": REPLICATED });
    const file = join(dir, "model.ts");
    const saved = join(dir, "found.json");
    const r = shardcost(["search", file, "--mesh", "v5e:2x4", "--json", "--save", saved]);
    expectNoStackTrace(r.stderr);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as RoleJson;
    // Two roles of [D, F] on a 2x4 mesh: each axis on D, F or neither → 3² each, 81 in all.
    expect(out.method).toBe("exhaustive");
    expect(out.exhausted).toBe(true);
    expect(out.best.asWritten).toBe(false);
    expect(out.best.stepS).toBeLessThan(0.5 * out.asWritten!.stepS);
    expect(out.why?.largestCut).toBeDefined();
    const e = shardcost(["estimate", file, "--mesh", "v5e:2x4", "--layout", saved, "--json"]);
    expect(e.status).toBe(0);
    const report = JSON.parse(e.stdout) as { time: { stepS: number } };
    expect(report.time.stepS).toBeCloseTo(out.best.stepS, 12);
  });

  it("the example file: never worse than its own shardings, the same answer twice, a readable report", () => {
    const args = ["search", "examples/models/mlp-2d.ts", "--mesh", "v5e:2x4x4"];
    const a = shardcost([...args, "--json"]);
    const b = shardcost([...args, "--json"]);
    expect(a.status).toBe(0);
    const ja = JSON.parse(a.stdout) as RoleJson;
    const jb = JSON.parse(b.stdout) as RoleJson;
    expect(ja.best.roles).toEqual(jb.best.roles);
    expect(ja.best.stepS).toBeLessThanOrEqual(ja.asWritten!.stepS);
    const text = shardcost(args);
    expect(text.stdout).toMatch(/^ {2}gate: Wgate\[D\S*, F\S*\]/m);
    expect(text.stdout).toMatch(/Collectives \(\d+\):/);
  });

  it("a file without roles, a bad roles file and a roles file for other dims are clear errors", () => {
    const dir = scratch({
      "plain.ts": REPLICATED.replace(', roles: ["w1", "w2"]', ""),
      "model.ts": REPLICATED,
      "bad.json": '{"format":"shardcost-roles/1","roles":{"w9":"W[D, F]"}}',
      "dims.json": '{"format":"shardcost-roles/1","roles":{"w1":"W1[F, D_X]"}}',
    });
    const none = shardcost(["search", join(dir, "plain.ts"), "--mesh", "v5e:2x4"]);
    expect(none.status).toBe(1);
    expect(none.stderr).toMatch(/declares no roles to search: export const roles/);
    const bad = shardcost(["estimate", join(dir, "model.ts"), "--layout", join(dir, "bad.json")]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/role w9 is not a tensor of the model's inputs \(x, w1, w2\)/);
    const dims = shardcost(["estimate", join(dir, "model.ts"), "--layout", join(dir, "dims.json")]);
    expect(dims.status).toBe(1);
    expect(dims.stderr).toMatch(/role w1 is declared over \[D, F\], the file gives \[F, D\]/);
    for (const r of [none, bad, dims]) expectNoStackTrace(r.stderr);
  });
});
