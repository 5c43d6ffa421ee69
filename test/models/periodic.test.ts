/**
 * `estimate` on a built-in model traces two- and three-layer models and extrapolates every
 * per-op row, the collectives, the totals and the memory to the model's depth. Each must equal
 * what a full trace gives (`--full`): here for LLaMA-3 8B, 70B and 405B under every named
 * layout, in both phases, through the CLI's own entry point.
 */
import { type JsonReport, main } from "@shardcost/cli";
import { describe, expect, it } from "vitest";

async function report(argv: readonly string[]): Promise<JsonReport> {
  let out = "";
  let err = "";
  const status = await main([...argv, "--json"], {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
    isTTY: false,
  });
  if (status !== 0) throw new Error(`${argv.join(" ")}: ${err}`);
  return JSON.parse(out) as JsonReport;
}

/** Numbers equal to 1e-9 relative (sums in another order), everything else exactly. */
function expectClose(got: unknown, want: unknown, path: string): void {
  if (typeof want === "number") {
    expect(typeof got, path).toBe("number");
    const scale = Math.max(Math.abs(want), Number.MIN_VALUE);
    expect(Math.abs((got as number) - want) / scale, path).toBeLessThanOrEqual(1e-9);
    return;
  }
  if (want !== null && typeof want === "object") {
    expect(Object.keys(got as object).sort(), path).toEqual(Object.keys(want).sort());
    for (const [k, v] of Object.entries(want)) {
      expectClose((got as Record<string, unknown>)[k], v, `${path}.${k}`);
    }
    return;
  }
  expect(got, path).toEqual(want);
}

const MODELS = [
  ["llama3-8b", "v5e:2x4"],
  ["llama3-70b", "v5e:4x4"],
  ["llama3-405b", "v5e:16x16"],
] as const;
const LAYOUTS = ["1d-ws", "2d-ws", "weight-gathered", "fsdp"] as const;
const PHASES = [
  ["decode", "--batch", "32", "--seq", "4096"],
  ["prefill", "--batch", "4", "--seq", "1024"],
] as const;

describe("periodic estimate equals a full trace", () => {
  for (const [model, mesh] of MODELS) {
    for (const [phase, ...sizes] of PHASES) {
      it(`${model} ${phase} on ${mesh}, every layout`, async () => {
        for (const layout of LAYOUTS) {
          const argv = ["estimate", "--model", model, "--phase", phase, ...sizes, "--mesh", mesh];
          const args = [...argv, "--layout", layout, "--weights", "int8"];
          const periodic = await report(args);
          const full = await report([...args, "--full"]);
          const byKind = (r: JsonReport) =>
            Object.fromEntries(r.collectives.map((c) => [`${c.kind}_${c.axes}`, c]));
          expectClose(byKind(periodic), byKind(full), `${layout} collectives`);
          expectClose(
            { ...periodic, collectives: [] },
            { ...full, collectives: [] },
            `${model} ${phase} ${layout}`,
          );
          expect(periodic.ops.length).toBeGreaterThan(10);
        }
      }, 120_000);
    }
  }
});
