/**
 * The chip catalog against its source: each figure of test/fixtures/chips.md (the book's chip
 * tables; the A10 from its data sheet), to the digits printed there — a figure printed as 4.8e12
 * must lie within ±0.05e12. HBM printed "80 GB" may be 80 GB or 80 GiB (vendors mean GiB).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CHIPS, type Chip } from "@shardcost/core";
import { describe, expect, it } from "vitest";

const TABLE = readFileSync(join(import.meta.dirname, "fixtures/chips.md"), "utf8");
const KEYS: Record<string, keyof typeof CHIPS> = {
  "TPU v5e": "v5e",
  "TPU v6e": "v6e",
  "TPU v4": "v4",
  "TPU v5p": "v5p",
  H100: "h100",
  H200: "h200",
  A100: "a100",
  B200: "b200",
  A10: "a10",
};

/** The rows of the table: chip name and its cells. */
const rows = TABLE.split("\n")
  .filter((l) => l.startsWith("| ") && !l.startsWith("| chip") && !l.startsWith("| ---"))
  .map((l) =>
    l
      .split("|")
      .slice(1, -1)
      .map((c) => c.trim()),
  );

/** `value` equals the printed figure to the digits printed (half a unit in the last place). */
function expectPrinted(value: number, printed: string, what: string) {
  const m = /^(\d+)(?:\.(\d+))?e(\d+)/.exec(printed);
  if (!m) throw new Error(`${what}: cannot read "${printed}"`);
  const decimals = m[2]?.length ?? 0;
  const figure = Number(m[0]);
  const halfUnit = 0.5 * 10 ** (Number(m[3]) - decimals);
  expect(Math.abs(value - figure), `${what}: ${value} vs printed ${printed}`).toBeLessThanOrEqual(
    halfUnit * (1 + 1e-9),
  );
}

describe("the chip catalog equals its cited figures", () => {
  it("has a row for every chip in the catalog", () => {
    const named = rows.map((r) => KEYS[r[0]!.replace(/ \(.*\)$/, "")]);
    expect(new Set(named)).toEqual(new Set(Object.keys(CHIPS)));
  });

  it.each(rows.map((r) => [r[0]!, r] as const))("%s", (name, [, bf16, int8, hbm, bw, link]) => {
    const chip: Chip = CHIPS[KEYS[name.replace(/ \(.*\)$/, "")]!];
    expectPrinted(chip.flops.bf16!, bf16!, `${name} bf16`);
    const lowPrecision = int8!.includes("fp8") ? chip.flops.fp8 : chip.flops.int8;
    expectPrinted(lowPrecision!, int8!, `${name} ${int8!.includes("fp8") ? "fp8" : "int8"}`);
    const gb = Number(/^(\d+) GB/.exec(hbm!)![1]);
    expect([gb * 1e9, gb * 2 ** 30], `${name} HBM`).toContain(chip.hbmBytes);
    expectPrinted(chip.hbmBandwidth, bw!, `${name} HBM bandwidth`);
    const linkRow = link === "as H100" ? rows.find((r) => r[0] === "H100")![5]! : link!;
    if (/^\d/.test(linkRow)) {
      expectPrinted(chip.linkBandwidth, linkRow, `${name} ICI link`);
      expect(chip.topology.kind).toBe("torus");
    } else if (/NVLink/.test(linkRow)) {
      const perGpu = Number(/(\d+) GB\/s per GPU/.exec(linkRow)![1]) * 1e9;
      expect(chip.linkBandwidth, `${name} NVLink`).toBe(perGpu);
      expect(chip.topology.kind).toBe("nvlink");
      const scaleOut = /(\d+) GB\/s per node scale-out/.exec(linkRow);
      if (scaleOut && chip.topology.kind === "nvlink") {
        expect(chip.topology.scaleOutBandwidth, `${name} scale-out`).toBe(
          Number(scaleOut[1]) * 1e9,
        );
      }
    } else {
      expect(linkRow).toMatch(/PCIe/);
      expect(chip.topology.kind).toBe("pcie");
    }
  });

  it("hop latency and prices as printed", () => {
    for (const c of Object.values(CHIPS) as Chip[]) {
      if (c.topology.kind !== "pcie") expect(c.hopLatency, c.name).toBe(1e-6);
    }
    for (const [, chip, price] of TABLE.matchAll(/(v5e|v5p|H100) \$(\d+(?:\.\d+)?)/g)) {
      const key = chip === "H100" ? "h100" : (chip as "v5e" | "v5p");
      expect((CHIPS[key] as Chip).pricePerHour, chip).toBe(Number(price));
    }
  });
});
