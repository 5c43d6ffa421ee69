/**
 * The bin reports built-in models' source lines by reading the `.map` beside a built file only
 * for the frames a report names (Node's own source maps stay off). Its rows must name the lines
 * the TypeScript sources give when they run directly (here, in-process under the test runner).
 */
import { join } from "node:path";
import { type JsonReport, main } from "@shardcost/cli";
import { describe, expect, it } from "vitest";
import { mapFrame } from "../../packages/cli/src/source-maps.js";
import { ROOT, shardcost } from "./run.js";

const ARGS = [
  "estimate",
  "--model",
  "llama3-8b",
  "--batch",
  "8",
  "--seq",
  "1024",
  "--mesh",
  "v5e:2x2",
  "--layout",
  "2d-ws",
  "--json",
];

async function inProcess(): Promise<JsonReport> {
  let out = "";
  const status = await main(ARGS, {
    out: (t) => {
      out += t;
    },
    err: () => {},
    isTTY: false,
  });
  expect(status).toBe(0);
  return JSON.parse(out) as JsonReport;
}

const sources = (r: JsonReport) => r.ops.map((op) => op.source);

describe("source lines through the built files' maps", () => {
  it("name the same lines as the sources run directly", async () => {
    const bin = shardcost(ARGS);
    expect(bin.status).toBe(0);
    const built = sources(JSON.parse(bin.stdout) as JsonReport);
    expect(built.length).toBeGreaterThan(5);
    expect(built.every((s) => /^@shardcost\/ops\/src\/models\/llama\.ts:\d+$/.test(s ?? ""))).toBe(
      true,
    );
    expect(built).toEqual(sources(await inProcess()));
  }, 60_000);

  it("maps a built line to its source line, and leaves a file without a map alone", () => {
    const built = join(ROOT, "packages/ops/dist/models/llama.js");
    const at = mapFrame(built, 1, 1);
    expect(at?.file).toBe(join(ROOT, "packages/ops/src/models/llama.ts"));
    expect(mapFrame(join(ROOT, "packages/cli/bin/shardcost.js"), 1, 1)).toBeUndefined();
  });
});
