// `shardcost plan`: the seeds' deployment chain for LLaMA-3-70B on v5e (int8 weights and KV,
// 8192 context; seed 000 and shared/reference/layouts.md §4), each figure the same as the
// `estimate` command plan prints for it.
import { describe, expect, it } from "vitest";
import { shardcost } from "./run.js";

const BASE = ["plan", "--model", "llama3-70b", "--weights", "int8", "--kv", "int8", "--json"];

interface Row {
  mesh: string;
  chips: number;
  fits: boolean;
  batch: number | null;
  stepS: number | null;
  tokensPerSPerChip: number | null;
  dollarsPerMTokens: number | null;
  command: string | null;
}

const run = (args: string[]) => {
  const r = shardcost(args);
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout);
};
const estimate = (command: string) => {
  const r = shardcost(
    command
      .replace(/^shardcost /, "")
      .split(" ")
      .concat("--json"),
  );
  expect(r.status).toBe(0);
  const report = JSON.parse(r.stdout);
  return {
    overlappedS: report.time.overlappedS as number,
    fits: report.memory.fits as boolean,
    tokensPerSPerChip: report.throughput.tokensPerSPerChip as number,
  };
};

describe("shardcost plan", () => {
  it("LLaMA-3-70B int8 on v5e at 8k context: smallest slice 4x2, ≈17 ms and ≈235 tokens/s/chip at batch 32", () => {
    const p = run([...BASE, "--batch", "32"]);
    const byMesh: Record<string, Row> = Object.fromEntries(
      (p.rows as Row[]).map((r) => [r.mesh, r]),
    );
    // ≈70 GB of int8 weights do not fit in 1 or 4 chips of 16 GB; 8 do.
    expect(byMesh["v5e:1"]?.fits).toBe(false);
    expect(byMesh["v5e:2x2"]?.fits).toBe(false);
    expect(p.smallest).toBe("v5e:2x4");
    const small = byMesh["v5e:2x4"]!;
    // Seed 000: (70 GB weights + 32 · 8192 · 160 kB KV) / (8 · 8.2e11 B/s) ≈ 17 ms, 235 tokens/s/chip.
    expect(Math.abs(small.stepS! / 17e-3 - 1)).toBeLessThan(0.1);
    expect(Math.abs(small.tokensPerSPerChip! / 235 - 1)).toBeLessThan(0.1);
    // 4x4 is listed too: the seed's ≈ 8.6 ms (weights + KV at 8.2e11 B/s), within 10% — the
    // activation traffic the seed leaves out is the rest (layouts.md §4: 9.5 ms).
    const big = byMesh["v5e:4x4"]!;
    expect(Math.abs(big.stepS! / 8.6e-3 - 1)).toBeLessThan(0.1);
    expect(Math.abs(big.stepS! / 9.5e-3 - 1)).toBeLessThan(0.1);
    // $/M tokens from the catalog's $1.2 per v5e chip-hour.
    expect(small.dollarsPerMTokens).toBeCloseTo(
      (8 * 1.2 * 1e6) / (small.tokensPerSPerChip! * 8 * 3600),
      9,
    );
    // Each row is the estimate it names.
    for (const r of [small, big]) {
      expect(estimate(r.command!).overlappedS).toBeCloseTo(r.stepS!, 12);
    }
  }, 60_000);

  it("the whole request = prefill of the prompt + one decode step per output token (a hand sum of estimates)", () => {
    const output = 6;
    const p = run([...BASE, "--batch", "32", "--prompt", "1024", "--output", String(output)]);
    const ttft = estimate(
      "shardcost estimate --model llama3-70b --mesh v5e:2x4 --layout 1d-ws --phase prefill --batch 1 --seq 1024 --weights int8 --kv int8",
    ).overlappedS;
    let decode = 0;
    for (let i = 1; i <= output; i++) {
      decode += estimate(
        `shardcost estimate --model llama3-70b --mesh v5e:2x4 --layout 1d-ws --phase decode --batch 32 --seq ${1024 + i} --weights int8 --kv int8`,
      ).overlappedS;
    }
    expect(p.request.timeToFirstTokenS).toBeCloseTo(ttft, 12);
    expect(Math.abs(p.request.requestS / (ttft + decode) - 1)).toBeLessThan(0.01);
  }, 120_000);

  it("without --batch, the largest batch that fits (and within --latency-ms)", () => {
    const p = run([...BASE, "--latency-ms", "25"]);
    for (const r of p.rows as Row[]) {
      if (!r.fits || r.stepS === null) continue;
      expect(r.stepS).toBeLessThanOrEqual(0.025);
      // One more sequence breaks the memory or the latency bound.
      const next = estimate(r.command!.replace(`--batch ${r.batch}`, `--batch ${r.batch! + 1}`));
      expect(next.fits === false || next.overlappedS > 0.025).toBe(true);
    }
  }, 120_000);

  it("--min-throughput: the smallest batch that reaches the floor on each slice", () => {
    const floor = 150;
    const p = run([...BASE, "--min-throughput", String(floor)]);
    let answered = 0;
    for (const r of p.rows as (Row & { note: string | null })[]) {
      if (!r.fits) continue;
      if (r.stepS === null) {
        expect(r.note).toMatch(/under --min-throughput/);
        continue;
      }
      answered++;
      expect(r.tokensPerSPerChip).toBeGreaterThanOrEqual(floor);
      const at = estimate(r.command!);
      expect(at.tokensPerSPerChip).toBeCloseTo(r.tokensPerSPerChip!, 6);
      // One sequence fewer falls short of the floor.
      if (r.batch! > 1) {
        const fewer = estimate(r.command!.replace(`--batch ${r.batch}`, `--batch ${r.batch! - 1}`));
        expect(fewer.tokensPerSPerChip).toBeLessThan(floor);
      }
    }
    expect(answered).toBeGreaterThanOrEqual(3);
    const both = shardcost([...BASE, "--min-throughput", "150", "--latency-ms", "20"]);
    expect(both.status).toBe(2);
    expect(both.stderr).toMatch(/one of them/);
  }, 180_000);

  it("a latency bound no batch meets is said per slice, not answered with a slower batch", () => {
    const p = run([...BASE, "--latency-ms", "1"]);
    for (const r of p.rows as (Row & { note: string | null })[]) {
      expect(r.stepS).toBeNull();
      expect(r.note).toMatch(/does not fit|over --latency-ms/);
    }
  }, 60_000);

  it("prints the roofline assumption, and the commands behind each figure on request", () => {
    const r = shardcost(["plan", "--model", "llama3-8b", "--chip", "h100", "--show-commands"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(
      "Roofline at 100% of peak FLOP/s, 100% of HBM and 100% of link bandwidth",
    );
    expect(r.stdout).toMatch(/shardcost estimate --model llama3-8b --mesh h100:1 /);
    expect(r.stdout).toContain("smallest slice that fits: h100:1");
  }, 60_000);
});
