/**
 * A model file's emitted JavaScript is cached by the content of the file and of every file it
 * imports: unchanged, it runs without the compiler; a change to it or to an import re-emits it.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BIN, scratch } from "./run.js";

const layers = (F: number) => `import { einsum, silu } from "@shardcost/ops";
import type { Tracer } from "@shardcost/core";
export const F = ${F};
export function mlp(x: Tracer, w: Tracer) {
  return silu(einsum("BD,DF->BF", x, w));
}
`;
const model = (extra = "") => `import { model, tensor } from "@shardcost/core";
import { F, mlp } from "./layers";
const inputs = { x: tensor("x[B, D]", "bf16"), w: tensor("w[D, F_X]", "bf16") };
export default model({ inputs, dims: { B: 8, D: 256, F } }, (t) => ({ y: mlp(t.x, t.w) }));
${extra}`;

function estimate(dir: string, cache: string) {
  const r = spawnSync(
    process.execPath,
    [BIN, "estimate", "model.ts", "--mesh", "v5e:2x2", "--json"],
    { cwd: dir, encoding: "utf8", env: { ...process.env, SHARDCOST_CACHE_DIR: cache } },
  );
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const outputs = (cache: string) => readdirSync(join(cache, "out")).length;

describe("model file cache", () => {
  it("reuses an unchanged file and re-emits when the file or an import changes", () => {
    const dir = scratch({ "model.ts": model(), "layers.ts": layers(1024) });
    const cache = mkdtempSync(join(tmpdir(), "shardcost-cache-"));

    const first = estimate(dir, cache);
    expect(first.status).toBe(0);
    expect(outputs(cache)).toBe(1);
    expect(JSON.parse(first.stdout).dims.F).toBe(1024);

    const again = estimate(dir, cache);
    expect(again.stdout).toBe(first.stdout);
    expect(outputs(cache)).toBe(1); // served from the cache: nothing emitted

    writeFileSync(join(dir, "layers.ts"), layers(2048)); // an import changes
    const changed = estimate(dir, cache);
    expect(changed.status).toBe(0);
    expect(JSON.parse(changed.stdout).dims.F).toBe(2048);
    expect(outputs(cache)).toBe(2);

    writeFileSync(join(dir, "model.ts"), model("const wrong: number = 'x';\n")); // the file
    const broken = estimate(dir, cache);
    expect(broken.status).toBe(1);
    expect(broken.stderr).toContain("model.ts:5:7");
    expect(outputs(cache)).toBe(2); // a file that does not type-check is not kept

    writeFileSync(join(dir, "model.ts"), model()); // mended: it runs again
    expect(estimate(dir, cache).status).toBe(0);
  }, 120_000);

  it("SHARDCOST_CACHE_DIR=off runs without a cache", () => {
    const dir = scratch({ "model.ts": model(), "layers.ts": layers(512) });
    const r = estimate(dir, "off");
    expect(r.status).toBe(0);
    expect(existsSync(join(dir, "off"))).toBe(false);
    expect(JSON.parse(r.stdout).dims.F).toBe(512);
  }, 60_000);
});
